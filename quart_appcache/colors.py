"""CSS colours, for ``theme_color`` and ``background_color``: checked and read as RGBA.

Named colours, ``#rgb``, ``#rgba``, ``#rrggbb``, ``#rrggbbaa``, and the
``rgb()``/``rgba()``/``hsl()``/``hsla()`` functions, with commas or spaces
(and ``/ alpha``). No framework or image library needed.
"""

from __future__ import annotations

import colorsys
import math
import re

__all__ = ["parse_css_color"]

RGBA = tuple[int, int, int, int]

# The CSS named colours (CSS Color Module Level 4), name:rrggbb.
_NAMED_TABLE = """
    aliceblue:f0f8ff antiquewhite:faebd7 aqua:00ffff aquamarine:7fffd4 azure:f0ffff beige:f5f5dc
    bisque:ffe4c4 black:000000 blanchedalmond:ffebcd blue:0000ff blueviolet:8a2be2 brown:a52a2a
    burlywood:deb887 cadetblue:5f9ea0 chartreuse:7fff00 chocolate:d2691e coral:ff7f50
    cornflowerblue:6495ed cornsilk:fff8dc crimson:dc143c cyan:00ffff darkblue:00008b
    darkcyan:008b8b darkgoldenrod:b8860b darkgray:a9a9a9 darkgreen:006400 darkgrey:a9a9a9
    darkkhaki:bdb76b darkmagenta:8b008b darkolivegreen:556b2f darkorange:ff8c00 darkorchid:9932cc
    darkred:8b0000 darksalmon:e9967a darkseagreen:8fbc8f darkslateblue:483d8b darkslategray:2f4f4f
    darkslategrey:2f4f4f darkturquoise:00ced1 darkviolet:9400d3 deeppink:ff1493 deepskyblue:00bfff
    dimgray:696969 dimgrey:696969 dodgerblue:1e90ff firebrick:b22222 floralwhite:fffaf0
    forestgreen:228b22 fuchsia:ff00ff gainsboro:dcdcdc ghostwhite:f8f8ff gold:ffd700
    goldenrod:daa520 gray:808080 green:008000 greenyellow:adff2f grey:808080 honeydew:f0fff0
    hotpink:ff69b4 indianred:cd5c5c indigo:4b0082 ivory:fffff0 khaki:f0e68c lavender:e6e6fa
    lavenderblush:fff0f5 lawngreen:7cfc00 lemonchiffon:fffacd lightblue:add8e6 lightcoral:f08080
    lightcyan:e0ffff lightgoldenrodyellow:fafad2 lightgray:d3d3d3 lightgreen:90ee90
    lightgrey:d3d3d3 lightpink:ffb6c1 lightsalmon:ffa07a lightseagreen:20b2aa lightskyblue:87cefa
    lightslategray:778899 lightslategrey:778899 lightsteelblue:b0c4de lightyellow:ffffe0
    lime:00ff00 limegreen:32cd32 linen:faf0e6 magenta:ff00ff maroon:800000 mediumaquamarine:66cdaa
    mediumblue:0000cd mediumorchid:ba55d3 mediumpurple:9370db mediumseagreen:3cb371
    mediumslateblue:7b68ee mediumspringgreen:00fa9a mediumturquoise:48d1cc mediumvioletred:c71585
    midnightblue:191970 mintcream:f5fffa mistyrose:ffe4e1 moccasin:ffe4b5 navajowhite:ffdead
    navy:000080 oldlace:fdf5e6 olive:808000 olivedrab:6b8e23 orange:ffa500 orangered:ff4500
    orchid:da70d6 palegoldenrod:eee8aa palegreen:98fb98 paleturquoise:afeeee palevioletred:db7093
    papayawhip:ffefd5 peachpuff:ffdab9 peru:cd853f pink:ffc0cb plum:dda0dd powderblue:b0e0e6
    purple:800080 rebeccapurple:663399 red:ff0000 rosybrown:bc8f8f royalblue:4169e1
    saddlebrown:8b4513 salmon:fa8072 sandybrown:f4a460 seagreen:2e8b57 seashell:fff5ee
    sienna:a0522d silver:c0c0c0 skyblue:87ceeb slateblue:6a5acd slategray:708090 slategrey:708090
    snow:fffafa springgreen:00ff7f steelblue:4682b4 tan:d2b48c teal:008080 thistle:d8bfd8
    tomato:ff6347 turquoise:40e0d0 violet:ee82ee wheat:f5deb3 white:ffffff whitesmoke:f5f5f5
    yellow:ffff00 yellowgreen:9acd32
"""
NAMED: dict[str, str] = dict(item.split(":") for item in _NAMED_TABLE.split())
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?"
_FUNCTION = re.compile(r"^(rgba?|hsla?)\(\s*(.*?)\s*\)$", re.IGNORECASE)
_ARG = re.compile(rf"^({_NUMBER})(%|deg|turn|rad|grad)?$", re.IGNORECASE)


def parse_css_color(value: str) -> RGBA | None:
    """The colour as ``(r, g, b, a)``, each 0-255, or ``None`` when it is not a CSS colour."""
    text = value.strip().lower()
    if text in NAMED:
        return _hex(NAMED[text])
    if text == "transparent":
        return (0, 0, 0, 0)
    if text.startswith("#"):
        return _hex(text[1:])
    match = _FUNCTION.match(text)
    return _function(match.group(1), match.group(2)) if match else None


def _hex(digits: str) -> RGBA | None:
    if not re.fullmatch(r"[0-9a-f]+", digits) or len(digits) not in (3, 4, 6, 8):
        return None
    full = "".join(2 * digit for digit in digits) if len(digits) in (3, 4) else digits
    channels = [int(full[i : i + 2], 16) for i in range(0, len(full), 2)]
    return (channels[0], channels[1], channels[2], channels[3] if len(channels) == 4 else 255)


def _function(name: str, body: str) -> RGBA | None:
    if "," in body:
        parts = [part.strip() for part in body.split(",")]
    else:
        color, slash, opacity = body.partition("/")
        parts = color.split() + ([opacity.strip()] if slash else [])
    if len(parts) not in (3, 4):
        return None
    args = [_ARG.match(part) for part in parts]
    if not all(args):
        return None
    numbers = [(float(m.group(1)), (m.group(2) or "").lower()) for m in args if m]
    alpha = 255
    if len(numbers) == 4:
        amount, unit = numbers[3]
        if unit not in ("", "%"):
            return None
        alpha = round(_clamp(amount / 100 if unit == "%" else amount) * 255)
    if name.startswith("rgb"):
        if any(unit not in ("", "%") for _, unit in numbers[:3]):
            return None
        r, g, b = (
            round(_clamp(amount / 100) * 255) if unit == "%" else round(min(max(amount, 0), 255))
            for amount, unit in numbers[:3]
        )
        return (r, g, b, alpha)
    (hue, hue_unit), (sat, sat_unit), (light, light_unit) = numbers[:3]
    if sat_unit != "%" or light_unit != "%" or hue_unit == "%":
        return None
    turns = {"": 1 / 360, "deg": 1 / 360, "turn": 1.0, "grad": 1 / 400, "rad": 1 / math.tau}
    red, green, blue = colorsys.hls_to_rgb(
        (hue * turns[hue_unit]) % 1.0, _clamp(light / 100), _clamp(sat / 100)
    )
    return (round(red * 255), round(green * 255), round(blue * 255), alpha)


def _clamp(value: float) -> float:
    return min(max(value, 0.0), 1.0)
