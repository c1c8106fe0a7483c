"""gan-trader: an honest research framework for GAN-based stock forecasting."""

__version__ = "0.1.0"
