"""A notebook's parameters, checked and applied to its profile the same way everywhere.

A profile is a tuple of frozen config dataclasses (or one). A notebook parameter such
as `epochs` names the config fields it sets and those it only caps: `epochs=3` sets
every epoch field to 3; `n_eval=500` sets the attacked test points to 500 and lowers a
smaller subset (the PGD points, say) to at most 500.
"""

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Param:
    """A notebook parameter: its value (None takes the profile's), the fields it
    sets and the fields it caps."""

    value: object
    sets: tuple = ()
    caps: tuple = ()
    maximum: int | None = None  # the largest value that makes sense (a data set's size)


def check_count(name, value, maximum=None):
    """A parameter that counts something (runs, epochs, points): None or an integer
    in [1, maximum]."""
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be None or an integer >= 1, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}")


def _owner(configs, name, field):
    """The index of the one config that has `field`."""
    owners = [
        i
        for i, config in enumerate(configs)
        if field in {f.name for f in dataclasses.fields(config)}
    ]
    if len(owners) != 1:
        raise ValueError(
            f"parameter {name!r} names the field {field!r}, found in {len(owners)} "
            "of the profile's configs (it must be in exactly one)"
        )
    return owners[0]


def resolve_profile(profiles, profile, **params):
    """The configs of `profile` with each given parameter applied, in the shape of
    profiles[profile]. Every field a parameter names must be in exactly one config."""
    if profile not in profiles:
        raise ValueError(f"profile must be one of {sorted(profiles)}, got {profile!r}")
    single = dataclasses.is_dataclass(profiles[profile])
    configs = [profiles[profile]] if single else list(profiles[profile])
    for name, param in params.items():
        check_count(name, param.value, param.maximum)
        for field in (*param.sets, *param.caps):
            i = _owner(configs, name, field)
            if param.value is not None:
                current = getattr(configs[i], field)
                value = (
                    param.value if field in param.sets else min(current, param.value)
                )
                configs[i] = dataclasses.replace(configs[i], **{field: value})
    return configs[0] if single else tuple(configs)
