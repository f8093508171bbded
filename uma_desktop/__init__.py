"""UMA Desktop: the owner's single control point across UMA 2.0 authorization servers."""

__version__ = "0.1.0"
APP_NAME = "UMA Desktop"
APP_ID = "org.umadesktop.UmaDesktop"
