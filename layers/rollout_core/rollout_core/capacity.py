"""How many instances the candidate needs: sized from what the baseline really runs.

The candidate takes a growing share of the traffic the baseline serves with its *current*
instance count (which Application Auto Scaling may have raised since the target was written).
So before each step the candidate gets capacity for its share of that traffic (capacity
first, then weight: UpdateEndpointWeightsAndCapacities takes DesiredInstanceCount), never
fewer instances than the target's ``instance_count``, and the promoted variant keeps enough
to carry all of it.

``full`` is the most instances the baseline was seen running while it served the endpoint:
its count when the rollout started, raised whenever autoscaling raised it during the rollout
(a baseline scaled in as its share shrinks does not lower it). ``Target.capacity_ratio``
converts baseline instances into candidate instances when their instance types differ.
"""

from __future__ import annotations

import math

from .models import AutoscalingSnapshot, Target


def candidate_instances(target: Target, full: int, percent: int) -> int:
    """Instances the candidate needs to serve ``percent`` % of the endpoint's traffic."""
    # Rounded to 6 places first so that 3 * 0.1 * 100 / 100 does not become 1 instance too many.
    needed = math.ceil(round(full * target.capacity_ratio * percent / 100, 6))
    return max(target.instance_count, needed)


def promoted_instances(target: Target, full: int, autoscaling: AutoscalingSnapshot | None) -> int:
    """Instances of the promoted variant: all the traffic, within the carried autoscaling range."""
    count = candidate_instances(target, full, 100)
    if autoscaling is not None:
        count = min(max(count, autoscaling.min_capacity), autoscaling.max_capacity)
    return count
