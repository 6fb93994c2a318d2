"""The one exception type for bad user input; the CLI turns it into one line and exit status 2."""


class UserInputError(ValueError):
    """A config value, flag or file that cannot be used; the message names the problem."""
