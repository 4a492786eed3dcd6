"""Graph drawing speed: a 100-state definition into SVG with the real `dot`, cold and cached.

The goals are checked against the fastest cold run (timeit's advice: the others measure what else the
machine was doing); the median and the CPU time (ours and dot's) are printed beside it.

    manage.py bench_graph               # goals: under 200 ms cold, under 5 ms cached
    manage.py bench_graph --states 300 --repeat 10
"""

import json
import os
import statistics
import time

from django.core.management.base import BaseCommand, CommandError

from designer import graph

COLD_GOAL_MS = 200
CACHED_GOAL_MS = 5


def chain(prefix: str, count: int) -> dict:
    """`count` states cycling through Pass, Task, Wait and Choice (a rule and a Default), the last
    one a Succeed."""
    states = {}
    for i in range(count):
        name, after = f"{prefix} {i}", f"{prefix} {i + 1}"
        kind = ("Pass", "Task", "Wait", "Choice")[i % 4]
        if i == count - 1:
            states[name] = {"Type": "Succeed"}
        elif kind == "Choice":
            states[name] = {"Type": "Choice", "Default": after,
                            "Choices": [{"Variable": "$.n", "NumericGreaterThan": i, "Next": after}]}
        else:
            states[name] = {"Type": kind, "Next": after}
            if kind == "Task":
                states[name].update(Resource="arn:aws:states:::lambda:invoke",
                                    Catch=[{"ErrorEquals": ["States.ALL"], "Next": f"{prefix} {count - 1}"}])
            elif kind == "Wait":
                states[name]["Seconds"] = 1
    return {"StartAt": f"{prefix} 0", "States": states}


def definition_of(states: int) -> dict:
    """About `states` states: a top-level chain with a Parallel of two branches and a Map."""
    inner = max(2, states // 6)
    top = chain("Step", states - 3 * inner)
    names = list(top["States"])
    top["States"][names[-2]] = {"Type": "Parallel", "Next": names[-1],
                                "Branches": [chain("Left", inner), chain("Right", inner)]}
    top["States"][names[-3]] = {"Type": "Map", "Next": names[-2], "ItemProcessor": chain("Item", inner)}
    return top


class Command(BaseCommand):
    help = "Time definition → SVG (designer/graph.py) with the real dot, cold and cached."

    def add_arguments(self, parser):
        parser.add_argument("--states", type=int, default=100)
        parser.add_argument("--repeat", type=int, default=5)

    def handle(self, *args, states, repeat, **options):
        definition = definition_of(states)
        text = json.dumps(definition)
        if graph.find_dot() is None:
            raise CommandError("Graphviz (dot) is not installed.")
        cold, cpu = [], []
        for _ in range(repeat):
            graph.clear_cache()
            started, times = time.perf_counter(), os.times()
            svg = graph.definition_svg(text)
            cold.append((time.perf_counter() - started) * 1000)
            after = os.times()
            cpu.append(sum(after[i] - times[i] for i in range(4)) * 1000)
        if "graph-placeholder" in svg:
            raise CommandError("The benchmark definition was not drawn: " + svg)
        cached = []
        for _ in range(1000):
            started = time.perf_counter()
            graph.definition_svg(text)
            cached.append((time.perf_counter() - started) * 1000)
        count = graph.count_states(definition["States"])
        cold_ms, cached_ms = min(cold), statistics.median(cached)
        self.stdout.write(
            f"graph: {count} states → {len(svg) // 1024} KiB SVG: cold {cold_ms:.0f} ms (best of {repeat}; "
            f"median {statistics.median(cold):.0f} ms, CPU {statistics.median(cpu):.0f} ms; "
            f"goal < {COLD_GOAL_MS}), "
            f"cached {cached_ms:.3f} ms (median of 1000; goal < {CACHED_GOAL_MS})")
        if cold_ms > COLD_GOAL_MS or cached_ms > CACHED_GOAL_MS:
            raise CommandError("graph drawing is slower than its goal")
