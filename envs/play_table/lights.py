"""Light logic of the play table: the button toggles the LED, the switch drives the bulb.

Both follow CALVIN's behaviour (SPEC §3.2): the button toggles the green LED on each rising edge
of "pressed" (joint past half its travel); the switch is level-triggered, the yellow bulb is on
while the switch joint is past half its range. Logical states are 0/1 and the light links change
colour (white when off) so that cameras see them.
"""

from __future__ import annotations

from envs.play_table.scene import BULB_ON, BUTTON_RANGE, LED_ON, LIGHT_OFF, SWITCH_RANGE, Desk


class Lights:
    """Logical LED / bulb states bound to the desk's button and switch.

    Args:
        desk: the loaded :class:`~envs.play_table.scene.Desk`.
    """

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.button_threshold = sum(BUTTON_RANGE) / 2
        self.switch_threshold = sum(SWITCH_RANGE) / 2
        self.led = 0
        self.lightbulb = 0
        self._was_pressed = False
        self._drawn: dict[str, int] = {}

    def reset(self, led: int, lightbulb: int) -> None:
        """Set logical states (after the joints were set); the button's edge detector restarts."""
        self.led = int(led)
        self.lightbulb = int(lightbulb)
        # like calvin_env >= 797142c: the button state follows the LED, and a button held down at
        # reset does not count as a fresh press
        self._was_pressed = self._button_pressed()
        self._draw()

    def _button_pressed(self) -> bool:
        return self.desk.joint("button") > self.button_threshold

    def step(self) -> None:
        """Update after the physics substeps of one env step."""
        pressed = self._button_pressed()
        if pressed and not self._was_pressed:
            self.led = 1 - self.led
        self._was_pressed = pressed
        self.lightbulb = int(self.desk.joint("switch") > self.switch_threshold)
        self._draw()

    def _draw(self) -> None:
        for link, state, on in (("led_link", self.led, LED_ON), ("light_link", self.lightbulb, BULB_ON)):
            if self._drawn.get(link) != state:  # changeVisualShape is not free: only on change
                self.desk.set_light_color(link, on if state else LIGHT_OFF)
                self._drawn[link] = state
