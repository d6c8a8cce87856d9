"""Kit profiles: what a kit for a given impairment must have, and whether this kit has it.

A profile (`images/profiles/<name>.yaml`, format in `images/profiles/README.md`) lists peripherals,
software and accessibility settings. `load_profile` reads and validates one, merged with the
profile it `extends`; `check` compares it with the kit. `check` is pure: the lookups it needs
(`which`, `package_installed`, `gsetting`) are passed in, and the defaults here run `dpkg-query`
and `gsettings`.

A lookup that cannot answer (no dpkg, no gsettings, no such schema) makes its requirement
*unverifiable*, not missing: the kit is not reported broken for what nobody could check.
"""

from __future__ import annotations

import logging
import math
import operator
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final, Self, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from agent.errors import ProfileError
from protocol.inventory import DeviceKind, Peripherals, ProfileCheck

_LOGGER = logging.getLogger(__name__)

PROFILES_DIR: Final = Path(__file__).resolve().parent.parent / "images" / "profiles"
LOOKUP_TIMEOUT_S: Final = 5.0

Which = Callable[[str], str | None]
PackageInstalled = Callable[[str], bool | None]
GSetting = Callable[[str, str], str | None]

VendorProduct = Annotated[
    str, StringConstraints(pattern=r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$", to_lower=True)
]
Label = Annotated[str, StringConstraints(min_length=1, max_length=120, strip_whitespace=True)]
Word = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
Executable = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._+-]+$")]
Package = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.+-]+$")]
GName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.-]+$")]

_PROFILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_COMPARISON = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*([-+]?\d+(?:\.\d+)?)\s*$")
_OPERATORS: Final[dict[str, Callable[[float, float], bool]]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9),
    "!=": lambda a, b: not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9),
}
_GVARIANT_TYPE = re.compile(r"^(?:byte|u?int16|u?int32|u?int64|double|handle)\s+")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class DeviceRequirement(_Strict):
    """A peripheral the kit must have: a kind and, optionally, which device exactly."""

    label: Label = Field(description="what a person calls it: 'braille display', 'microphone'")
    kind: DeviceKind
    vendor_product: VendorProduct | None = Field(default=None, description="'vvvv:pppp'")
    any_of: list[VendorProduct] | None = Field(default=None, min_length=1)
    name_contains: list[Word] | None = Field(
        default=None, min_length=1, description="any of these words in the name, any case"
    )
    required: bool = Field(default=True, description="false: installed by the image, not checked")

    @model_validator(mode="after")
    def _one_way_to_name_ids(self) -> Self:
        if self.vendor_product is not None and self.any_of is not None:
            raise ValueError("give either vendor_product or any_of, not both")
        return self


class SoftwareRequirement(_Strict):
    """Software the kit must carry: any of these executables or Debian packages."""

    label: Label
    binaries: list[Executable] = Field(default_factory=list, description="found with `which`")
    packages: list[Package] = Field(default_factory=list, description="Debian package names")
    required: bool = True

    @model_validator(mode="after")
    def _something_to_look_for(self) -> Self:
        if not self.binaries and not self.packages:
            raise ValueError("list at least one of binaries or packages")
        return self


class SettingRequirement(_Strict):
    """An accessibility setting (GSettings) and the value it must have."""

    label: Label
    gsettings_schema: GName = Field(alias="schema", description="org.gnome.desktop.a11y...")
    key: GName
    expected: bool | int | float | str = Field(
        description="the value, or a comparison with a number such as '>=1.25'"
    )
    required: bool = True

    @field_validator("expected")
    @classmethod
    def _comparison_is_well_formed(cls, value: bool | float | str) -> bool | float | str:
        looks_like_comparison = isinstance(value, str) and value.lstrip()[:1] in set("<>=!")
        if looks_like_comparison and _COMPARISON.match(str(value)) is None:
            raise ValueError(f"{value!r} is not a comparison like '>=1.25'")
        return value


Requirement = DeviceRequirement | SoftwareRequirement | SettingRequirement
R = TypeVar("R", DeviceRequirement, SoftwareRequirement, SettingRequirement)


class Profile(_Strict):
    """What a kit for one kind of impairment must have (images/profiles/<name>.yaml)."""

    name: Annotated[str, StringConstraints(pattern=_PROFILE_NAME.pattern)]
    description: Annotated[
        str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)
    ]
    extends: Annotated[str, StringConstraints(pattern=_PROFILE_NAME.pattern)] | None = None
    peripherals: list[DeviceRequirement] = Field(default_factory=list)
    software: list[SoftwareRequirement] = Field(default_factory=list)
    accessibility: list[SettingRequirement] = Field(default_factory=list)

    @model_validator(mode="after")
    def _labels_are_unique(self) -> Self:
        for section in (self.peripherals, self.software, self.accessibility):
            labels = [r.label for r in section]
            if twice := sorted({label for label in labels if labels.count(label) > 1}):
                raise ValueError(f"each label once per section; repeated: {', '.join(twice)}")
        return self

    def requirements(self) -> list[Requirement]:
        """Every requirement, in the order a report lists them."""
        return [*self.peripherals, *self.software, *self.accessibility]


# --- loading --------------------------------------------------------------------------------


def _describe_errors(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def _read(name: str, directory: Path) -> Profile:
    if not _PROFILE_NAME.match(name):
        raise ProfileError(f"{name!r} is not a profile name (lower-case letters, digits, - and _)")
    path = directory / f"{name}.yaml"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        known = ", ".join(sorted(p.stem for p in directory.glob("*.yaml"))) or "none"
        raise ProfileError(f"{path}: no such profile (known: {known})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: must be a mapping with name, description, peripherals, ...")
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(f"{path}: {_describe_errors(exc)}") from exc
    if profile.name != name:
        raise ProfileError(f"{path}: name: {profile.name!r} must match the file name {name!r}")
    return profile


def _merge(parent: Sequence[R], child: Sequence[R]) -> list[R]:
    """The parent's requirements, then the child's; a child's label replaces the parent's."""
    by_label = {r.label: r for r in child}
    merged = [by_label.pop(r.label, r) for r in parent]
    return merged + [r for r in child if r.label in by_label]


def load_profile(name: str, directory: Path = PROFILES_DIR) -> Profile:
    """Read `<directory>/<name>.yaml`, validate it and merge in the profile it extends.

    Raises:
        ProfileError: the file is missing or invalid; the message names the file and the field.
    """
    chain = [name]
    profile = _read(name, directory)
    resolved = profile
    while resolved.extends is not None:
        parent_name = resolved.extends
        if parent_name in chain:
            cycle = " -> ".join([*chain, parent_name])
            raise ProfileError(f"{directory / f'{name}.yaml'}: extends: a cycle ({cycle})")
        chain.append(parent_name)
        try:
            parent = _read(parent_name, directory)
        except ProfileError as exc:
            raise ProfileError(f"{directory / f'{name}.yaml'}: extends: {exc}") from exc
        resolved = profile.model_copy(
            update={
                "extends": parent.extends,
                "peripherals": _merge(parent.peripherals, resolved.peripherals),
                "software": _merge(parent.software, resolved.software),
                "accessibility": _merge(parent.accessibility, resolved.accessibility),
            }
        )
    return resolved.model_copy(update={"extends": profile.extends})


# --- checking -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProfileReport:
    """The labels of the requirements met, missing and not verifiable, in profile order."""

    profile: str
    met: tuple[str, ...]
    missing: tuple[str, ...]
    unverifiable: tuple[str, ...]
    optional_missing: tuple[str, ...]

    def to_check(self) -> ProfileCheck:
        """The wire form: complete when nothing required is missing."""
        return ProfileCheck(
            profile=self.profile, complete=not self.missing, missing=[*self.missing]
        )


def _has_device(requirement: DeviceRequirement, peripherals: Peripherals) -> bool:
    candidates: list[tuple[str | None, str | None, str]]
    if requirement.kind is DeviceKind.USB:
        candidates = [(u.vendor_id, u.product_id, u.product or "") for u in peripherals.usb]
    else:
        candidates = [
            (p.vendor_id, p.product_id, p.name)
            for p in peripherals.devices
            if p.kind is requirement.kind
        ]
    ids = set(requirement.any_of or ())
    if requirement.vendor_product is not None:
        ids.add(requirement.vendor_product)
    words = [w.casefold() for w in requirement.name_contains or ()]
    if not ids and not words:
        return bool(candidates)
    for vendor_id, product_id, name in candidates:
        if vendor_id and product_id and f"{vendor_id}:{product_id}".lower() in ids:
            return True
        if any(word in name.casefold() for word in words):
            return True
    return False


def _has_software(
    requirement: SoftwareRequirement, which: Which, package_installed: PackageInstalled
) -> bool | None:
    if any(which(binary) is not None for binary in requirement.binaries):
        return True
    answers = [package_installed(package) for package in requirement.packages]
    if any(answer is True for answer in answers):
        return True
    if requirement.binaries or any(answer is False for answer in answers):
        return False
    return None  # only packages, and nothing could tell whether they are installed


def parse_gvariant(text: str) -> bool | float | str:
    """`gsettings get` output as Python: `true` -> True, `uint32 5` -> 5.0, `'x'` -> 'x'."""
    text = _GVARIANT_TYPE.sub("", text.strip())
    if text in ("true", "false"):
        return text == "true"
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1].replace("\\'", "'").replace('\\"', '"')
    try:
        return float(text)
    except ValueError:
        return text  # arrays, tuples, maybe-values: compared as written


def setting_matches(expected: bool | float | str, actual_text: str) -> bool:
    """Whether a GSettings value (as `gsettings get` prints it) meets the expected value."""
    actual = parse_gvariant(actual_text)
    if isinstance(expected, str) and (comparison := _COMPARISON.match(expected)):
        if isinstance(actual, bool) or not isinstance(actual, float):
            return False
        return _OPERATORS[comparison.group(1)](actual, float(comparison.group(2)))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float):
        return isinstance(actual, float) and math.isclose(actual, float(expected), abs_tol=1e-9)
    return isinstance(actual, str) and actual == expected


def _has_setting(requirement: SettingRequirement, gsetting: GSetting) -> bool | None:
    value = gsetting(requirement.gsettings_schema, requirement.key)
    if value is None:
        return None
    return setting_matches(requirement.expected, value)


def evaluate(
    profile: Profile,
    peripherals: Peripherals,
    *,
    which: Which,
    package_installed: PackageInstalled,
    gsetting: GSetting,
) -> ProfileReport:
    """Each requirement of the profile met, missing or unverifiable; pure given the lookups."""
    met: list[str] = []
    missing: list[str] = []
    unverifiable: list[str] = []
    optional_missing: list[str] = []
    for requirement in profile.requirements():
        outcome: bool | None
        if isinstance(requirement, DeviceRequirement):
            outcome = _has_device(requirement, peripherals)
        elif isinstance(requirement, SoftwareRequirement):
            outcome = _has_software(requirement, which, package_installed)
        else:
            outcome = _has_setting(requirement, gsetting)
        if outcome is None:
            unverifiable.append(requirement.label)
        elif outcome:
            met.append(requirement.label)
        elif requirement.required:
            missing.append(requirement.label)
        else:
            optional_missing.append(requirement.label)
    return ProfileReport(
        profile=profile.name,
        met=tuple(met),
        missing=tuple(missing),
        unverifiable=tuple(unverifiable),
        optional_missing=tuple(optional_missing),
    )


# --- the default lookups: dpkg-query and gsettings --------------------------------------------


def dpkg_installed(package: str) -> bool | None:
    """Whether dpkg lists the package as installed; None when dpkg-query cannot answer."""
    try:
        result = subprocess.run(
            ["dpkg-query", "--show", "--showformat=${db:Status-Status}", package],
            capture_output=True,
            text=True,
            timeout=LOOKUP_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _LOGGER.debug("dpkg-query unavailable: %s", exc)
        return None
    if result.returncode == 0:
        return result.stdout.strip() == "installed"
    if result.returncode == 1:  # "no packages found matching ..."
        return False
    _LOGGER.debug("dpkg-query %s failed: %s", package, result.stderr.strip())
    return None


def gsettings_get(schema: str, key: str) -> str | None:
    """`gsettings get schema key`, or None when gsettings, the schema or the key is missing.

    It reads the settings of the user it runs as: run the agent's check in the pupil's session
    (or wrap this with `runuser`) to see what the pupil sees.
    """
    try:
        result = subprocess.run(
            ["gsettings", "get", schema, key],
            capture_output=True,
            text=True,
            timeout=LOOKUP_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _LOGGER.debug("gsettings unavailable: %s", exc)
        return None
    if result.returncode != 0:
        _LOGGER.info("gsettings get %s %s: %s", schema, key, result.stderr.strip())
        return None
    return result.stdout.strip()


def check(
    profile: Profile,
    peripherals: Peripherals,
    *,
    which: Which = shutil.which,
    package_installed: PackageInstalled = dpkg_installed,
    gsetting: GSetting = gsettings_get,
) -> ProfileCheck:
    """The kit against its profile: complete, or the labels of what is missing."""
    report = evaluate(
        profile,
        peripherals,
        which=which,
        package_installed=package_installed,
        gsetting=gsetting,
    )
    if report.unverifiable:
        _LOGGER.info("profile %s: cannot verify %s", profile.name, ", ".join(report.unverifiable))
    return report.to_check()
