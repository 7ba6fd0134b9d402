"""Password hashing (argon2id, upgraded at sign-in) and the password policy."""

from __future__ import annotations

import pytest
from accounts_support import FAST_HASHER, PASSWORD, Box
from argon2 import PasswordHasher

from hotspot.accounts.passwords import PasswordRejected, Passwords, common_passwords
from hotspot.accounts.tables import AdminUser


async def test_hashes_are_argon2id_salted_and_verify() -> None:
    passwords = Passwords(hasher=FAST_HASHER)
    one = await passwords.hash(PASSWORD)
    two = await passwords.hash(PASSWORD)
    assert one.startswith("$argon2id$") and one != two
    assert await passwords.verify(one, PASSWORD)
    assert not await passwords.verify(one, PASSWORD + "x")
    assert not await passwords.verify("not a hash", PASSWORD)
    assert not await passwords.verify(one, "x" * 1000)  # too long: refused without hashing


def test_default_parameters_are_the_libraries_recommended_ones() -> None:
    hasher = Passwords().hasher
    assert hasher.memory_cost >= 64 * 1024 and hasher.time_cost >= 2


async def test_old_parameters_are_upgraded_at_sign_in(box: Box) -> None:
    box.admin("upgrade", "viewer")
    before = box.run(lambda: AdminUser.select(AdminUser.password_hash).first().run())["password_hash"]
    assert "m=1024" in before
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    box.accounts.passwords.hasher = stronger
    assert box.accounts.passwords.needs_rehash(before)
    assert (await box.browser().login("upgrade", PASSWORD)).status_code == 200
    after = box.run(lambda: AdminUser.select(AdminUser.password_hash).first().run())["password_hash"]
    assert after != before and "m=2048" in after and not box.accounts.passwords.needs_rehash(after)
    assert (await box.browser().login("upgrade", PASSWORD)).status_code == 200
    assert (await box.browser().login("upgrade", "plum-orchard-velvet-43")).status_code == 401


def test_the_shipped_common_password_list() -> None:
    common = common_passwords()
    assert len(common) > 19_000  # the whole list shipped, not a sample
    for word in ("password", "123456", "qwerty", "iloveyou", "1234567890", "password1"):
        assert word in common


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short-9", "at least 10"),
        ("          ", "only spaces"),
        ("1234567890", "most common"),
        ("qwertyuiop", "most common"),
        ("Password123!", "most common"),  # a common word with digits and a symbol stuck on
        ("iloveyou2024", "most common"),
        ("wanjiku-is-the-best", "username"),
        ("x" * 300, "at most"),
    ],
)
def test_policy_refuses(password: str, rule: str) -> None:
    with pytest.raises(PasswordRejected, match=rule):
        Passwords().check(password, username="wanjiku")


def test_policy_refuses_the_e_mail_name() -> None:
    with pytest.raises(PasswordRejected, match="e-mail"):
        Passwords().check("my-name-is-kamaa-ok", username="boss", email="kamaa@example.com")


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "plum-orchard-velvet-42", "Mvua ya Mawe 1977!", "ñandú-paraguayo"],
)
def test_policy_accepts(password: str) -> None:
    Passwords().check(password, username="wanjiku", email="w@example.com")


def test_minimum_length_follows_the_setting() -> None:
    with pytest.raises(PasswordRejected, match="at least 16"):
        Passwords(min_length=16).check("plum-orchard-v1")
