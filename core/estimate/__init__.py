"""The shared estimate of a plan's physics: pure functions of a resolved Plan."""
