"""The navigation: grouped by process, each role's groups first, only screens the user may open, one current."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import RequestFactory
from django.urls import reverse

from erp.context_processors import NAV_GROUPS, navigation
from erp.demo import USERS
from erp.roles import ROLES

pytestmark = pytest.mark.django_db


def _menu(user: Any, path: str = "/") -> list[dict[str, Any]]:
    request = RequestFactory().get(path)
    request.user = user
    menus: list[dict[str, Any]] = navigation(request)["nav_groups"]
    return menus


def test_every_role_names_groups_that_exist():
    keys = [group.key for group in NAV_GROUPS]
    assert len(keys) == len(set(keys))
    for role in ROLES:
        assert set(role.nav) <= set(keys), f"{role.key} names unknown groups {set(role.nav) - set(keys)}"


@pytest.mark.parametrize("username", [spec.username for spec in USERS])
def test_each_demo_user_sees_every_screen_they_may_open_and_no_other_in_no_empty_group(user, username):
    account = user(username)
    menus = _menu(account)

    shown = {(menu["key"], link["label"]) for menu in menus for link in menu["links"]}
    allowed = {(group.key, link.label) for group in NAV_GROUPS for link in group.links
               if account.has_perm(link.permission)}
    assert shown == allowed
    assert all(menu["links"] for menu in menus)
    assert not any(menu["active"] or any(link["active"] for link in menu["links"]) for menu in menus)


@pytest.mark.parametrize("username", [spec.username for spec in USERS if spec.username != "admin"])
def test_a_link_shows_to_exactly_the_users_its_screen_lets_in(client, user, username):
    account = user(username)
    client.force_login(account)
    shown = {link["url"] for menu in _menu(account) for link in menu["links"]}

    for group in NAV_GROUPS:
        for link in group.links:
            url = reverse(link.url_name)
            status = client.get(url).status_code
            assert (status == 200) == (url in shown) and status in (200, 403), f"{username} {url}: {status}"


@pytest.mark.parametrize(("username", "first"), [
    ("ne.service", ["sell", "fulfil"]),
    ("ne.operator", ["fulfil", "stock"]),
    ("planner", ["plan", "govern", "stock", "sell"]),  # Plan shows once it has a screen (Transfers)
    ("buyer", ["buy", "stock"]),
    ("approver", ["govern"]),
    ("owner", ["govern"]),
    ("finance", ["govern"]),  # likewise Finance
    ("admin", [group.key for group in NAV_GROUPS if group.links]),  # a superuser with no role: standard order
])
def test_each_role_sees_its_own_groups_first(user, username, first):
    keys = [menu["key"] for menu in _menu(user(username))]

    assert keys[:len(first)] == first
    assert len(keys) == len(set(keys))


def test_the_longest_matching_screen_is_current_and_its_group_with_it(user):
    menus = _menu(user("ne.operator"), reverse("inventory:cycle-count-list") + "12/")

    current = [(menu["key"], link["label"]) for menu in menus for link in menu["links"] if link["active"]]
    assert current == [("stock", "Counts")]  # not Stock inquiry, whose address is a prefix of it
    assert [menu["key"] for menu in menus if menu["active"]] == ["stock"]


def test_the_page_renders_one_menu_per_group_with_its_links(client, user):
    client.force_login(user("ne.service"))

    page = client.get(reverse("orders:order-list")).content.decode()

    groups = re.findall(r'data-group="([a-z]+)"', page)
    assert groups[:2] == ["sell", "fulfil"] and len(groups) == len(set(groups))
    sell = page[page.index('data-group="sell"'):page.index('data-group="fulfil"')]
    assert "is-current" in sell and 'aria-current="page">Orders<' in sell
    assert reverse("orders:customer-list") in sell and reverse("orders:return-list") in sell


def test_an_anonymous_visitor_gets_no_menu():
    request = RequestFactory().get("/")
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    assert navigation(request) == {"nav_groups": [], "nav_roles": [], "nav_scope_label": ""}
