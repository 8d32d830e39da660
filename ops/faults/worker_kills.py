"""TODO"""


def add_arguments(parser):
    pass


def run(args, rig, checks):
    raise NotImplementedError
