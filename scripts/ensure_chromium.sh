#!/usr/bin/env bash
# The report test renders the HTML report in headless Chromium; install it only when missing.
set -u
for candidate in chromium chromium-browser google-chrome; do
  command -v "$candidate" >/dev/null 2>&1 && exit 0
done
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium for the report test (one time)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "chromium could not be installed; the report rendering test will be skipped"
else
  echo "chromium not found and cannot be installed here; the report rendering test will be skipped"
fi
exit 0
