"""Using the pages as someone without a mouse does: Tab to a control, type, Space, arrow keys, Enter. Each helper
fails when the control cannot be reached from the keyboard. And axe-core's verdict on the page in view."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Locator, Page

MAX_TABS = 600  # more tab stops than any page has: a control not reached by then is not reachable


async def _focused(locator: Locator) -> bool:
    return bool(await locator.evaluate("e => e === document.activeElement"))


async def tab_to(page: Page, locator: Locator) -> None:
    for _ in range(MAX_TABS):
        if await _focused(locator):
            return
        await page.keyboard.press("Tab")
    pytest.fail(f"{locator} was not reached with the Tab key")


async def type_into(page: Page, locator: Locator, text: str) -> None:
    await tab_to(page, locator)
    await page.keyboard.press("Control+A")
    await page.keyboard.type(text)


async def press(page: Page, locator: Locator, key: str = "Enter") -> None:
    await tab_to(page, locator)
    await page.keyboard.press(key)


async def choose(page: Page, select: Locator, value: str) -> None:
    """A closed <select>: the arrow keys move its choice."""
    await tab_to(page, select)
    for _ in range(200):
        if await select.input_value() == value:
            return
        await page.keyboard.press("ArrowDown")
    pytest.fail(f"{value!r} was not reached with the arrow keys in {select}")


async def pick(page: Page, radio: Locator) -> None:
    """A radio button: Tab into its group, then the arrow keys (which check as they move)."""
    name = await radio.get_attribute("name")
    for _ in range(MAX_TABS):
        focused_name = await page.evaluate("() => document.activeElement && document.activeElement.type === 'radio'"
                                           " ? document.activeElement.name : null")
        if focused_name == name:
            break
        await page.keyboard.press("Tab")
    else:
        pytest.fail(f"the radio group {name!r} was not reached with the Tab key")
    for _ in range(20):
        if await radio.is_checked():
            return
        await page.keyboard.press("ArrowDown")
    pytest.fail(f"{radio} was not checked with the arrow keys")


async def serious_violations(page: Page, axe_source: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page in view (WCAG 2.x A and AA, and best practice)."""
    await page.add_script_tag(content=axe_source)
    result: dict[str, Any] = await page.evaluate("async () => await axe.run(document)")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


async def assert_accessible(page: Page, axe_source: str, where: str) -> None:
    found = await serious_violations(page, axe_source)
    assert not found, f"axe-core on {where} ({page.url}): {found}"
