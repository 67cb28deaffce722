"""The project's structure: which package may import which, and no import circles."""
