"""Counting words for user-facing messages, shared by core and the pages."""

from __future__ import annotations


def plural(n: int, noun: str) -> str:
    """'1 image', '2 images'."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def agreement_words(from_groups: bool) -> tuple[str, str]:
    """(name, why) of a figure measured against labels: accuracy only when the labels are the person's.

    Labels that came from Discover's grouping are guesses nobody looked at; a model's agreement with
    them is not how often it is right.
    """
    if from_groups:
        return (
            "Agreement with your groups",
            "how often the model agrees with the groups Discover made, which nobody checked photo by photo: "
            "not accuracy. An audit on the Sort page measures what is right.",
        )
    return "Validation accuracy", "on validation photos, which training never saw, labelled by their folders"
