"""A clock for the business time of `Services(settings, clock, ...)`: tests move it, nobody sleeps."""


class Clock:
    def __init__(self, now: float = 1_800_000_000.0, step: float = 0.0):
        self.now = now
        self.step = step  # added at every reading (0: the time stands still until moved)

    def __call__(self) -> float:
        self.now += self.step
        return self.now
