"""The setup wizard and the settings it writes: progress, operator mode, design rules."""
