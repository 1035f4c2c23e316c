"""What an administrator installs into an existing Asterisk: the kit (package data, rendered
from astguard's settings), the installer that writes it, and the doctor that checks it."""
