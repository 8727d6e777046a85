"""What comes in: the package folder, its descriptive metadata, and the checks of a submission."""
