"""xxgk: read, check and store China's government information disclosure annual reports."""

__version__ = "0.1.0"
