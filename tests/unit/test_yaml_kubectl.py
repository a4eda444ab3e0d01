"""YAML is read as kubectl reads it (sigs.k8s.io/yaml.YAMLToJSON over go-yaml v2, documents
split by k8s.io/apimachinery's YAMLReader), not as YAML 1.1 or PyYAML would read it.

Every row of CASES is a real case whose answer was taken from the oracle in tools/yaml-oracle
at the versions kubectl v1.36 uses (sigs.k8s.io/yaml v1.6.0, go.yaml.in/yaml/v2 v2.4.3,
k8s.io/apimachinery v0.36.3); tests/tools/test_yaml_oracle.py checks the table against the
oracle itself. REFUSED: kubectl fails on the file, so ambdiff raises YamlSyntaxError.
DUPLICATE: kubectl silently keeps one of two equal keys (which one may even vary from run to
run), ambdiff refuses the file with a duplicate-key error.
"""

from __future__ import annotations

import contextlib
import json

import pytest

from ambdiff.yamlio import YamlSyntaxError, load_documents, load_json_document

REFUSED = "refused"
DUPLICATE = "duplicate"

# (file text, the documents kubectl reads from it, or REFUSED / DUPLICATE)
CASES: list[tuple[str, object]] = [
    ('v: =\n', [{'v': '='}]),
    ('v: <<\n', [{'v': '<<'}]),
    ('v: y\n', [{'v': True}]),
    ('v: 0777\n', [{'v': 511}]),
    ('v: 0o777\n', [{'v': 511}]),
    ('v: 0x1F\n', [{'v': 31}]),
    ('v: 0b101\n', [{'v': 5}]),
    ('v: 0b-101\n', [{'v': -5}]),
    ('v: 1_000\n', [{'v': 1000}]),
    ('v: 1:20\n', [{'v': '1:20'}]),
    ('v: 190:20:30.15\n', [{'v': '190:20:30.15'}]),
    ('v: 1e3\n', [{'v': 1000}]),
    ('v: .5\n', [{'v': 0.5}]),
    ('v: +.inf\n', REFUSED),  # kubectl: json: unsupported value: +Inf
    ('v: .NaN\n', REFUSED),  # kubectl: json: unsupported value: NaN
    ('v: -0\n', [{'v': 0}]),
    ('v: -0.0\n', [{'v': 0}]),
    ('v: 08\n', [{'v': 8}]),
    ('v: 09.5\n', [{'v': 9.5}]),
    ('v: 18446744073709551615\n', [{'v': 18446744073709551615}]),
    ('v: 18446744073709551616\n', [{'v': 18446744073709552000}]),
    ('v: -9223372036854775809\n', [{'v': -9223372036854776000}]),
    ('v: 123456789012345678901234567890\n', [{'v': 1.2345678901234568e+29}]),
    ('v: 1e400\n', [{'v': '1e400'}]),
    ('v: 1e-400\n', [{'v': 0}]),
    ('v: .5_0\n', [{'v': 0.5}]),
    ('v: 0x_1F\n', [{'v': 31}]),
    ('v: +0x1F\n', [{'v': 31}]),
    ('v: 1.\n', [{'v': 1}]),
    ('v: 1.e5\n', [{'v': 100000}]),
    ('v: 0x1FFFFFFFFFFFFFFFFF\n', [{'v': '0x1FFFFFFFFFFFFFFFFF'}]),
    ('v: 2001-12-14\n', [{'v': '2001-12-14'}]),
    ('v: 2001-12-14t21:59:43.10-05:00\n', [{'v': '2001-12-14t21:59:43.10-05:00'}]),
    ('v: 1e21\n', [{'v': 1e+21}]),
    ('v: 1e20\n', [{'v': 100000000000000000000}]),
    ('v: 123.0\n', [{'v': 123}]),
    ('v: 0.1\n', [{'v': 0.1}]),
    ('v: 1e-7\n', [{'v': 1e-07}]),
    ('v: 3.14159265358979\n', [{'v': 3.14159265358979}]),
    ('v: 0b1111111111111111111111111111111111111111111111111111111111111111\n', [{'v': 18446744073709551615}]),
    ('v: -0b101\n', [{'v': -5}]),
    ('v: ~\n', [{'v': None}]),
    ('v: Null\n', [{'v': None}]),
    ('v: NULL\n', [{'v': None}]),
    ('v: nULL\n', [{'v': 'nULL'}]),
    ('=: v\n', [{'=': 'v'}]),
    ('<<: v\n', REFUSED),  # kubectl: yaml: map merge requires map or sequence of maps as the value
    ('y: v\n', [{'true': 'v'}]),
    ('0777: v\n', [{'511': 'v'}]),
    ('0o777: v\n', [{'511': 'v'}]),
    ('0x1F: v\n', [{'31': 'v'}]),
    ('0b101: v\n', [{'5': 'v'}]),
    ('0b-101: v\n', [{'-5': 'v'}]),
    ('1_000: v\n', [{'1000': 'v'}]),
    ('1:20: v\n', [{'1:20': 'v'}]),
    ('190:20:30.15: v\n', [{'190:20:30.15': 'v'}]),
    ('1e3: v\n', [{'1000': 'v'}]),
    ('.5: v\n', [{'0.5': 'v'}]),
    ('+.inf: v\n', [{'.inf': 'v'}]),
    ('.NaN: v\n', [{'.nan': 'v'}]),
    ('-0: v\n', [{'0': 'v'}]),
    ('-0.0: v\n', [{'-0': 'v'}]),
    ('08: v\n', [{'8': 'v'}]),
    ('09.5: v\n', [{'9.5': 'v'}]),
    ('18446744073709551615: v\n', REFUSED),  # kubectl: unsupported map key of type: uint64, key: 0xffffffffffffffff, value: "
    ('18446744073709551616: v\n', [{'1.8446744e+19': 'v'}]),
    ('-9223372036854775809: v\n', [{'-9.223372e+18': 'v'}]),
    ('123456789012345678901234567890: v\n', [{'1.2345679e+29': 'v'}]),
    ('1e400: v\n', [{'1e400': 'v'}]),
    ('1e-400: v\n', [{'0': 'v'}]),
    ('.5_0: v\n', [{'0.5': 'v'}]),
    ('0x_1F: v\n', [{'31': 'v'}]),
    ('+0x1F: v\n', [{'31': 'v'}]),
    ('1.: v\n', [{'1': 'v'}]),
    ('1.e5: v\n', [{'100000': 'v'}]),
    ('0x1FFFFFFFFFFFFFFFFF: v\n', [{'0x1FFFFFFFFFFFFFFFFF': 'v'}]),
    ('2001-12-14: v\n', [{'2001-12-14': 'v'}]),
    ('2001-12-14t21:59:43.10-05:00: v\n', [{'2001-12-14t21:59:43.10-05:00': 'v'}]),
    ('1e21: v\n', [{'1e+21': 'v'}]),
    ('1e20: v\n', [{'1e+20': 'v'}]),
    ('123.0: v\n', [{'123': 'v'}]),
    ('0.1: v\n', [{'0.1': 'v'}]),
    ('1e-7: v\n', [{'1e-07': 'v'}]),
    ('3.14159265358979: v\n', [{'3.1415927': 'v'}]),
    ('0b1111111111111111111111111111111111111111111111111111111111111111: v\n', REFUSED),  # kubectl: unsupported map key of type: uint64, key: 0xffffffffffffffff, value: "
    ('-0b101: v\n', [{'-5': 'v'}]),
    ('~: v\n', REFUSED),  # kubectl: unsupported map key of type: %!s(<nil>), key: <nil>, value: "v"
    ('Null: v\n', REFUSED),  # kubectl: unsupported map key of type: %!s(<nil>), key: <nil>, value: "v"
    ('NULL: v\n', REFUSED),  # kubectl: unsupported map key of type: %!s(<nil>), key: <nil>, value: "v"
    ('nULL: v\n', [{'nULL': 'v'}]),
    ('k: !!str 12', [{'k': '12'}]),
    ('k: !!int "12"', [{'k': 12}]),
    ('k: !!binary aGk=', [{'k': 'hi'}]),
    ('k: !!float 1', [{'k': 1}]),
    ('k: !!bool yes', [{'k': True}]),
    ('k: !!null', [{'k': None}]),
    ('k: !!seq foo', [{'k': 'foo'}]),
    ('k: !!map [a]', [{'k': ['a']}]),
    ('k: !foo bar', [{'k': 'bar'}]),
    ('k: !!set {x, y}', [{'k': {'true': None, 'x': None}}]),
    ('k: !!omap [{a: 1}]', [{'k': [{'a': 1}]}]),
    ('k: !!timestamp 2001-12-14', [{'k': '2001-12-14'}]),
    ('k: !!timestamp foo', REFUSED),  # kubectl: yaml: cannot decode !!str `foo` as a !!timestamp
    ('k: !!int abc', REFUSED),  # kubectl: yaml: cannot decode !!str `abc` as a !!int
    ('k: !!int', REFUSED),  # kubectl: yaml: cannot decode !!null `` as a !!int
    ('k: ! 12', [{'k': '12'}]),
    ('k: ! "12"', [{'k': '12'}]),
    ('k: !!binary |\n  aGVs\n  bG8=\n', [{'k': 'hello'}]),
    ('k: !!binary aGk', REFUSED),  # kubectl: yaml: !!binary value contains invalid base64 data
    ('k: !!binary /w==', [{'k': '�'}]),
    ('a: 1\n<<: {a: 2}', [{'a': 2}]),
    ('<<: {a: 2}\na: 1', [{'a': 1}]),
    ('b: &b {x: 1}\nc: &c {x: 2}\nd: {<<: [*b, *c]}', [{'b': {'x': 1}, 'c': {'x': 2}, 'd': {'x': 1}}]),
    ('<<: ~', REFUSED),  # kubectl: yaml: map merge requires map or sequence of maps as the value
    ('1: a\n"1": b', DUPLICATE),  # kubectl keeps one: [{"1": "a"}]
    ('1: a\n01: b', DUPLICATE),  # kubectl keeps one: [{"1": "b"}]
    ('a: 1\na: 2', DUPLICATE),  # kubectl keeps one: [{"a": 2}]
    ('true: b\n1: a', [{'1': 'a', 'true': 'b'}]),
    ('null: c', REFUSED),  # kubectl: unsupported map key of type: %!s(<nil>), key: <nil>, value: "c"
    ('1.5: x', [{'1.5': 'x'}]),
    ('? [1, 2]\n: x', REFUSED),  # kubectl: yaml: invalid map key: []interface {}{1, 2}
    ('r: &r [*r]', REFUSED),  # kubectl: yaml: anchor 'r' value contains itself
    ('a: &x 1\nb: &x 2\nc: *x', [{'a': 1, 'b': 2, 'c': 2}]),
    ('%YAML 1.1\n---\na: 1', REFUSED),  # kubectl: yaml: line 1: did not find expected <document start>
    ('%YAML 1.2\n---\na: 1', REFUSED),  # kubectl: yaml: found incompatible YAML document
    ('a: 1\n...\nb: 2\n', [{'a': 1}]),
    ('--- {a: 1}\n', REFUSED),  # kubectl: invalid Yaml document separator: {a: 1}
    ('---#c\na: 1', REFUSED),  # kubectl: yaml: line 2: mapping values are not allowed in this context
    ('----\na: 1', REFUSED),  # kubectl: invalid Yaml document separator: -
    ('k: .inf', REFUSED),  # kubectl: json: unsupported value: +Inf
    ('k: .nan', REFUSED),  # kubectl: json: unsupported value: NaN
    ('{a:b}', [{'a:b': None}]),
    ('[a:b]', [['a:b']]),
    ('k: "\\/"', REFUSED),  # kubectl: yaml: found unknown escape character
    ('a: &a:b x\nb: *a:b', REFUSED),  # kubectl: yaml: line 1: did not find expected key
    ('k: 2001-12-14 21:59:43.10 -5', [{'k': '2001-12-14 21:59:43.10 -5'}]),
    ('k: !!float .inf', REFUSED),  # kubectl: json: unsupported value: +Inf
    ('k: !!int 1.5', REFUSED),  # kubectl: yaml: cannot decode !!float `1.5` as a !!int
    ('k: !!float "1.5"', [{'k': 1.5}]),
    ('k: !<tag:yaml.org,2002:int> 12', [{'k': 12}]),
    ('k: !!merge <<', [{'k': '<<'}]),
    ('!!str <<: x', [{'<<': 'x'}]),
    ('"<<": x', [{'<<': 'x'}]),
    ('k: !!python/object foo', [{'k': 'foo'}]),
    ('s: &s [{a: 1}]\nm: {<<: *s}', REFUSED),  # kubectl: yaml: map merge requires map or sequence of maps as the value
    ('a: 1\n---\nb: 2\n', [{'a': 1}, {'b': 2}]),
    ('a: 1\n---#x\nb: 2\n', [{'a': 1}, {'b': 2}]),
    ('x: ! <<\n', [{'x': '<<'}]),
    ('m: {! <<: {a: 1}}', [{'m': {'a': 1}}]),
    ('k: [1, 2]\n---\n\n---\n# c\n', [{'k': [1, 2]}]),
    ('kind: List\nitems:\n- a: 1\n- a: 2\n', [{'items': [{'a': 1}, {'a': 2}], 'kind': 'List'}]),
    ('k: [a?b, ?c]', REFUSED),  # kubectl: yaml: did not find expected ',' or ']'
    ('k: [!a b, !c]', REFUSED),  # kubectl: yaml: line 1: did not find expected ',' or ']'
    ('k: {?a: b}', [{'k': {'a': 'b'}}]),
    ('k:\ta', [{'k': 'a'}]),
    ('k: a\t# c', [{'k': 'a'}]),
    ('k:\n\t- a', REFUSED),  # kubectl: yaml: line 2: found character that cannot start any token
    ('k: |2\n   x\n', [{'k': ' x\n'}]),
    ('- - a\n  - b', [[['a', 'b']]]),
    ('? a\n: b', [{'a': 'b'}]),
    ('k: a\r\nj: b\r\n', [{'j': 'b', 'k': 'a'}]),
    ('\ufeffk: v', [{'k': 'v'}]),
    ('--- |\n  x\n', REFUSED),  # kubectl: invalid Yaml document separator: |
    ('--- >\n  x\n', REFUSED),  # kubectl: invalid Yaml document separator: >
    ('---\n|\n  x\n', ['x\n']),
    ("k: 'a\\/b'", [{'k': 'a\\/b'}]),
    ('k: a\\/b', [{'k': 'a\\/b'}]),
    ('k: "\\x41\\u00e9\\U0001F600\\N\\_\\L\\P\\e\\0"', [{'k': 'Aé😀\x85\xa0\u2028\u2029\x1b\x00'}]),
    ('k: "a\\\nb"', [{'k': 'ab'}]),
    ('k: "\\\'"', [{'k': "'"}]),
    ('k: [a, b, ]', [{'k': ['a', 'b']}]),
    ('k: {a: 1, }', [{'k': {'a': 1}}]),
    ('k: - a', REFUSED),  # kubectl: yaml: block sequence entries are not allowed in this context
    ('[a, b]: c', REFUSED),  # kubectl: yaml: invalid map key: []interface {}{"a", "b"}
    ('{a: 1}: c', REFUSED),  # kubectl: yaml: invalid map key: map[interface {}]interface {}{"a":1}
    ('k: *undefined', REFUSED),  # kubectl: yaml: unknown anchor 'undefined' referenced
    ('k: &a\n', [{'k': None}]),
    ('k: !!str &a x\nj: *a', [{'j': 'x', 'k': 'x'}]),
    ('k: !<!> x', [{'k': 'x'}]),
    ('k: !e!x y', REFUSED),  # kubectl: yaml: found undefined tag handle
    ('%TAG !e! tag:example.com,2000:\n---\nk: !e!x y', REFUSED),  # kubectl: yaml: line 1: did not find expected <document start>
    ('k: @x', REFUSED),  # kubectl: yaml: found character that cannot start any token
    ('k: `x', REFUSED),  # kubectl: yaml: found character that cannot start any token
    ('k: %x', REFUSED),  # kubectl: yaml: found character that cannot start any token
    ('k: x # c\n# c\n', [{'k': 'x'}]),
    ('a:\n  - b\n  -c', REFUSED),  # kubectl: yaml: line 4: could not find expected ':'
    ('- a\n- b: c\n  d: e', [['a', {'b': 'c', 'd': 'e'}]]),
    ('k: >-\n  a\n  b\n\n  c\n', [{'k': 'a b\nc'}]),
    ("k: 'it''s'", [{'k': "it's"}]),
    ('k: "\\t"', [{'k': '\t'}]),
    ('k: a:b', [{'k': 'a:b'}]),
    ('k: a :b', [{'k': 'a :b'}]),
    ('k: -1', [{'k': -1}]),
    ('k: - 1', REFUSED),  # kubectl: yaml: block sequence entries are not allowed in this context
    ('k: 0.', [{'k': 0}]),
    ('k: .', [{'k': '.'}]),
    ('k: -.', [{'k': '-.'}]),
    ('k: +', [{'k': '+'}]),
    ('k: -', REFUSED),  # kubectl: yaml: block sequence entries are not allowed in this context
    ('k: 1e', [{'k': '1e'}]),
    ('k: 1e+', [{'k': '1e+'}]),
    ('k: 0x', [{'k': '0x'}]),
    ('k: 0o', [{'k': '0o'}]),
    ('k: 0b', [{'k': '0b'}]),
    ('k: 0b2', [{'k': '0b2'}]),
    ('k: 0o8', [{'k': '0o8'}]),
    ('k: 07_7', [{'k': 63}]),
    ('k: 1__0', [{'k': 10}]),
    ('k: _1', [{'k': '_1'}]),
    ('k: 1_', [{'k': 1}]),
    ('k: +.5', [{'k': 0.5}]),
    ('k: -.5e-3', [{'k': -0.0005}]),
    ('k: ._5', [{'k': '._5'}]),
    ('k: .5__0', [{'k': '.5__0'}]),
    ('k: .5e1_0', [{'k': 5000000000}]),
    ('k: .5_', [{'k': '.5_'}]),
    ('k: +0b101', [{'k': 5}]),
    ('k: 0b+101', [{'k': 5}]),
    ('k: -0b-1', [{'k': '-0b-1'}]),
    ('k: 0B101', [{'k': 5}]),
    ('k: 0X1f', [{'k': 31}]),
    ('k: 0O17', [{'k': 15}]),
    ('k: 2001-02-29', [{'k': '2001-02-29'}]),
    ('k: 2000-02-29', [{'k': '2000-02-29'}]),
    ('k: 2001-1-2', [{'k': '2001-1-2'}]),
    ('k: 2001-12-14T21:59:43Z', [{'k': '2001-12-14T21:59:43Z'}]),
    ('k: 2001-12-14T21:59:43,5+05:00', [{'k': '2001-12-14T21:59:43,5+05:00'}]),
    ('k: !!timestamp 2001-12-14T24:00:00Z', REFUSED),  # kubectl: yaml: cannot decode !!str `2001-12-14T24:00:00Z` as a !!timestamp
    ('k: !!timestamp 2001-13-01', REFUSED),  # kubectl: yaml: cannot decode !!str `2001-13-01` as a !!timestamp
    ('k: !!timestamp 2001-12-14 21:59:43.10', [{'k': '2001-12-14 21:59:43.10'}]),
    ('k: !!timestamp 2001-12-14T21:59:43+25:00', REFUSED),  # kubectl: yaml: cannot decode !!str `2001-12-14T21:59:43+25:00` as a !!timestamp
    ('k: !!timestamp 2001-12-14T21:59:43+24:60', [{'k': '2001-12-14T21:59:43+24:60'}]),
    ('k: !!timestamp 2001-12-14T1:2:3Z', [{'k': '2001-12-14T1:2:3Z'}]),
    ('k: !!timestamp 2001-12-14t21:59:43.10-05:00', [{'k': '2001-12-14t21:59:43.10-05:00'}]),
    ('k: !!timestamp 2001-12-14T21:59:43.10-5', REFUSED),  # kubectl: yaml: cannot decode !!str `2001-12-14T21:59:43.10-5` as a !!timestamp
    ('k: !!timestamp 0000-01-01', [{'k': '0000-01-01'}]),
    ('k: !!timestamp 2001-12-14T21:59:60Z', REFUSED),  # kubectl: yaml: cannot decode !!str `2001-12-14T21:59:60Z` as a !!timestamp
    ('k: !!timestamp 2001-12-14 ', [{'k': '2001-12-14'}]),
    ('k: !!binary aGk==', REFUSED),  # kubectl: yaml: !!binary value contains invalid base64 data
    ('k: !!binary aGl=', [{'k': 'hi'}]),
    ('k: !!binary 8J+Y', [{'k': '���'}]),
    ('k: !!binary 7aCA', [{'k': '���'}]),
    ("k: !!binary ''", [{'k': ''}]),
    ("k: !!binary 'a G k ='", REFUSED),  # kubectl: yaml: !!binary value contains invalid base64 data
    ('k: !!binary "aGk=\\r\\n"', [{'k': 'hi'}]),
    ('!!binary aGk=: v', [{'hi': 'v'}]),
    ('k: !!bool 1', REFUSED),  # kubectl: yaml: cannot decode !!int `1` as a !!bool
    ('k: !!bool y', [{'k': True}]),
    ('k: !!null ~', [{'k': None}]),
    ('k: !!null x', REFUSED),  # kubectl: yaml: cannot decode !!str `x` as a !!null
    ('k: !!str ~', [{'k': '~'}]),
    ('k: !!int 0o17', [{'k': 15}]),
    ('k: !!int 1_000', [{'k': 1000}]),
    ('k: !!float 1e400', REFUSED),  # kubectl: yaml: cannot decode !!str `1e400` as a !!float
    ('k: !!float .5', [{'k': 0.5}]),
    ('k: !!float 18446744073709551615', REFUSED),  # kubectl: yaml: cannot decode !!int `18446744073709551615` as a !!float
    ('k: !!int 18446744073709551616', REFUSED),  # kubectl: yaml: cannot decode !!float `18446744073709551616` as a !!int
    ('k: !!int ~', REFUSED),  # kubectl: yaml: cannot decode !!null `~` as a !!int
    ("k: !!bool ''", REFUSED),  # kubectl: yaml: cannot decode !!null `` as a !!bool
    ('k: !!str', [{'k': ''}]),
    ('k: !!map x', [{'k': 'x'}]),
    ('k: !!seq {a: 1}', [{'k': {'a': 1}}]),
    ('k: !!str [1]', [{'k': [1]}]),
    ('k: !!int {a: 1}', [{'k': {'a': 1}}]),
    ('k: !!timestamp', REFUSED),  # kubectl: yaml: cannot decode !!null `` as a !!timestamp
    ("k: !!timestamp ''", REFUSED),  # kubectl: yaml: cannot decode !!null `` as a !!timestamp
    ('k: !!merge x', [{'k': 'x'}]),
    ('!!merge <<: {a: 1}', [{'a': 1}]),
    ('! <<: {a: 1}', [{'a': 1}]),
    ('<<: [{a: 1}, 1]', REFUSED),  # kubectl: yaml: map merge requires map or sequence of maps as the value
    ('<<: *a', REFUSED),  # kubectl: yaml: unknown anchor 'a' referenced
    ('a: &a 1\n<<: *a', REFUSED),  # kubectl: yaml: map merge requires map or sequence of maps as the value
    ('x: &x {a: 1}\ny: {<<: [*x], a: 2}', [{'true': {'a': 2}, 'x': {'a': 1}}]),
    ('x: &x {a: 1}\ny: {a: 2, <<: [*x]}', [{'true': {'a': 1}, 'x': {'a': 1}}]),
    ('x: &x {a: 1, <<: {b: 2}}\ny: {<<: *x}', [{'true': {'a': 1, 'b': 2}, 'x': {'a': 1, 'b': 2}}]),
    ('m: {<<: {a: 1}, <<: {a: 2}}', [{'m': {'a': 2}}]),
    ('m: {a: 1, <<: {a: 2}, a: 3}', DUPLICATE),  # kubectl keeps one: [{"m": {"a": 3}}]
    ('1.0: a\n1: b', DUPLICATE),  # kubectl keeps one: [{"1": "b"}]
    ('0.1: a\n0.10000000001: b', DUPLICATE),  # kubectl keeps one: [{"0.1": "b"}]
    ('.nan: a\n.NaN: b', DUPLICATE),  # kubectl keeps one: [{".nan": "b"}]
    ('true: a\nTrue: b', DUPLICATE),  # kubectl keeps one: [{"true": "b"}]
    ('1: a\ntrue: b', [{'1': 'a', 'true': 'b'}]),
    ('3.4e38: a', [{'3.4e+38': 'a'}]),
    ('3.5e38: a', [{'.inf': 'a'}]),
    ('-3.5e38: a', [{'-.inf': 'a'}]),
    ('1e-46: a', [{'0': 'a'}]),
    ('1.17549435e-38: a', [{'1.1754944e-38': 'a'}]),
    ('16777217: a', [{'16777217': 'a'}]),
    ('16777217.0: a', [{'1.6777216e+07': 'a'}]),
    ('0.3: a', [{'0.3': 'a'}]),
    ('2.5e-5: a', [{'2.5e-05': 'a'}]),
    ('100000.0: a', [{'100000': 'a'}]),
    ('1000000.0: a', [{'1e+06': 'a'}]),
    ('123456.7: a', [{'123456.7': 'a'}]),
    ('-1.5: a', [{'-1.5': 'a'}]),
    ('1e-4: a', [{'0.0001': 'a'}]),
    ('1e-5: a', [{'1e-05': 'a'}]),
    ('5e-324: a', [{'0': 'a'}]),
    ('x: 1e300', [{'x': 1e+300}]),
    ('x: 1e22', [{'x': 1e+22}]),
    ('x: 123456789.123', [{'x': 123456789.123}]),
    ('x: 9007199254740993', [{'x': 9007199254740993}]),
    ('x: 9007199254740993.0', [{'x': 9007199254740992}]),
    ('x: 1.7976931348623157e308', [{'x': 1.7976931348623157e+308}]),
    ('x: 1.7976931348623159e308', [{'x': '1.7976931348623159e308'}]),
    ('x: -1e-400', [{'x': 0}]),
    ('a:\n- &x [1, 2]\n- *x', [{'a': [[1, 2], [1, 2]]}]),
    ('a: &x\n  b: *x', REFUSED),  # kubectl: yaml: anchor 'x' value contains itself
    ('k: "\\ud800"', REFUSED),  # kubectl: yaml: found invalid Unicode character escape code
    ('k: \x85', [{'k': None}]),
    ('k: a\u2028b', REFUSED),  # kubectl: yaml: line 3: could not find expected ':'
    ('&a k: v\n*a : w', DUPLICATE),  # kubectl keeps one: [{"k": "w"}]
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_yaml_reads_as_kubectl(text: str, expected: object) -> None:
    if expected in (REFUSED, DUPLICATE):
        with pytest.raises(YamlSyntaxError) as caught:
            load_documents(text, "f.yaml")
        assert caught.value.problem.startswith("invalid YAML: ")
        assert ("duplicate key" in caught.value.problem) == (expected == DUPLICATE)
        return
    got = [doc.data for doc in load_documents(text, "f.yaml")]
    assert got == expected
    # same types too (True is not 1, and 1.0 is 1 in kubectl's JSON); key order aside
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("a: 1\nb: .nan\n", 2, 4),
        ("a: 1\n\n---\nb:\n  ~: 1\n", 5, 3),
        ("a: 1\n---\nb: 2\n--- {c: 3}\n", 4, 4),
        ("a: 1\n...\n---\nb:\n  - !!int x\n", 5, 5),  # split as kubectl does, lines kept
        ("a: 1\n...\n---\nb: [x?y]\n", 4, 5),
        ("x: &r [*r]\n", 1, 4),
        ("a: 1\nb: 2\na: 3\n", 3, 1),
    ],
)
def test_yaml_errors_name_file_line_and_column(text: str, line: int, column: int) -> None:
    with pytest.raises(YamlSyntaxError) as caught:
        load_documents(text, "dir/f.yaml")
    assert (caught.value.file, caught.value.line, caught.value.column) == (
        "dir/f.yaml",
        line,
        column,
    )
    assert str(caught.value).startswith(f"dir/f.yaml:{line}:{column}: invalid YAML: ")


@pytest.mark.parametrize(
    "text",
    [
        "password: !!int hunter2\n",
        "password: !!float hunter2\n",
        "password: !!bool hunter2\n",
        "password: !!null hunter2\n",
        "password: !!timestamp hunter2\n",
        "password: !!binary hunter2\n",
        "password: !!int 'hunter2'\n",
        "password: .nan\n--- # hunter2 is fine in a comment\n",
        "--- hunter2\n",
    ],
)
def test_yaml_errors_never_quote_a_value(text: str) -> None:
    with pytest.raises(YamlSyntaxError) as caught:
        load_documents(text, "f.yaml")
    message = str(caught.value)
    assert "hunter2" not in message.replace("hunter2 is fine", "")
    assert message.count(".") <= 3  # one sentence (and the file name's dot)


TAGS = [
    "!!str",
    "!!int",
    "!!float",
    "!!bool",
    "!!null",
    "!!binary",
    "!!timestamp",
    "!!seq",
    "!!map",
    "!!set",
    "!!omap",
    "!!pairs",
    "!!merge",
    "!!value",
    "!!python/object",
    "!",
    "!local",
    "!<tag:yaml.org,2002:int>",
]
VALUES = [
    "",
    "x",
    "12",
    "0x1F",
    "1.5",
    ".inf",
    ".nan",
    "~",
    "yes",
    "2001-12-14",
    "aGk=",
    "<<",
    "'12'",
    "[1, 2]",
    "{a: 1}",
    "-1e400",
    "18446744073709551616",
]


@pytest.mark.parametrize("tag", TAGS)
def test_explicit_tags_raise_only_yaml_syntax_errors(tag: str) -> None:
    for value in VALUES:
        for text in (f"k: {tag} {value}\n", f"{tag} {value}: v\n", f"- {tag} {value}\n"):
            with contextlib.suppress(YamlSyntaxError):
                load_documents(text, "f.yaml")


def test_aliases_still_share_one_object() -> None:
    (doc,) = load_documents("a: &x {b: [1]}\nc: *x\n", "f.yaml")
    assert isinstance(doc.data, dict)
    assert doc.data["a"] is doc.data["c"]


def test_document_lines_count_from_the_file_when_split_by_lines() -> None:
    text = "%YAML 1.1\n---\na: 1\n"
    with pytest.raises(YamlSyntaxError):
        load_documents(text, "f.yaml")  # kubectl reads the directive as a document of its own
    docs = load_documents("a: 1\n...\n---\nkind: List\nitems:\n- b: 1\n- b: 2\n", "f.yaml")
    assert [(d.line, d.item_lines) for d in docs] == [(1, ()), (4, (6, 7))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1, "b": [true, null, 1.5]}', [{"a": 1, "b": [True, None, 1.5]}]),
        ('{"a": 1}\n{"b": 2}\n', [{"a": 1}, {"b": 2}]),  # a stream of objects
        ('{"a": NaN}', [{"a": "NaN"}]),  # not JSON: kubectl falls back to YAML
        ('{"a": 1e400}', [{"a": "1e400"}]),
        ('{"a": 1,}', [{"a": 1}]),
        ("", []),
        ("  \n", []),
        ('[{"a": 1}]', [[{"a": 1}]]),
    ],
)
def test_json_files_read_as_kubectl_reads_them(text: str, expected: object) -> None:
    assert [doc.data for doc in load_json_document(text, "f.json")] == expected


def test_broken_json_reports_the_json_error() -> None:
    with pytest.raises(YamlSyntaxError, match="invalid JSON"):
        load_json_document('{"a": [1, 2}', "f.json")
