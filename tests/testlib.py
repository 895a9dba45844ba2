"""What the Python tests share: a tally of named checks, and the stack's environment file."""


class Checks:
    """Named checks that keep going after a failure and report every one of them."""

    def __init__(self):
        self.passed, self.failed = 0, []

    def __call__(self, name, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed.append(name)
            print(f"FAIL {name}" + (f": {detail}" if detail else ""), flush=True)
        return ok

    def summary(self, what):
        """Prints the tally; the exit status for the test."""
        print(f"{what}: {self.passed} passed, {len(self.failed)} failed")
        return 1 if self.failed else 0


def read_stack_env(path):
    """KEY=VALUE lines of deploy/stack.sh's stack.env."""
    env = {}
    for line in open(path):
        if "=" in line:
            key, value = line.rstrip("\n").split("=", 1)
            env[key] = value
    return env
