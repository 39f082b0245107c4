"""Labelling-free start: embeddings of an unlabelled gallery -> proposed groups.

Every image is embedded once with the pretrained backbone through the same
``FeatureCache`` training uses, so training on the accepted groups afterwards
does not recompute anything. Groups come from k-means (or Ward agglomerative)
on L2-normalised embeddings, with k chosen by silhouette unless the user forces
it. A ``Grouping`` is immutable; the editing operations (rename, merge, split,
move, discard) are pure functions returning a new one, which keeps undo and
Streamlit reruns trivial. Nothing here writes to the user's files:
``to_dataset`` points at the originals and ``write_groups`` only copies.

The package, by job: ``embedding`` (photos to vectors), ``grouping`` (the
``Grouping`` type and how it is rebuilt after any change), ``clustering`` (k-means
or Ward, the number of groups, the 2-D map, ``discover`` itself), ``editing`` (the
pure edits and the re-assignment that follows a move), ``hints`` (split and merge
suggestions) and ``export`` (a dataset, a CSV, copied folders). Import from here.
"""

from .clustering import cluster, discover, k_confidence, k_range, map_2d, more_groups, pick_k, propose, regroup
from .editing import discard, merge, move, reassign, rename, split
from .embedding import DISCOVER_BACKBONE, Embedding, discover_backbone, embed, l2_normalise
from .export import common_root, groups_csv, placed_labels, to_dataset, write_groups
from .grouping import DISCARDED, DiscoverError, Group, Grouping, clean_name, default_name
from .hints import SplitHint, merge_hints, split_as, split_hints

__all__ = [
    "DISCARDED",
    "DISCOVER_BACKBONE",
    "DiscoverError",
    "Embedding",
    "Group",
    "Grouping",
    "SplitHint",
    "clean_name",
    "cluster",
    "common_root",
    "default_name",
    "discard",
    "discover",
    "discover_backbone",
    "embed",
    "groups_csv",
    "k_confidence",
    "k_range",
    "l2_normalise",
    "map_2d",
    "merge",
    "merge_hints",
    "more_groups",
    "move",
    "pick_k",
    "placed_labels",
    "propose",
    "reassign",
    "regroup",
    "rename",
    "split",
    "split_as",
    "split_hints",
    "to_dataset",
    "write_groups",
]
