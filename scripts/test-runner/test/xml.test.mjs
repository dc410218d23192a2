// The tolerant XML reader: well-formed input, and the truncated reports a
// killed runtime leaves behind.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeEntities, parseXml } from "../xml.mjs";

const names = (el) => el.children.map((c) => c.name);

test("elements, attributes (both quote styles, unquoted, bare), self-closing tags", () => {
  const doc = parseXml(`<?xml version="1.0"?><!-- c --><A x="1" y='2' z=3 flag><b/><c>t</c></A>`);
  assert.deepEqual(names(doc), ["a"]); // names are lower-cased
  const a = doc.children[0];
  assert.deepEqual(a.attrs, { x: "1", y: "2", z: "3", flag: "" });
  assert.deepEqual(names(a), ["b", "c"]);
  assert.equal(a.children[1].text, "t");
});

test("entities in text and attributes; CDATA is kept as written", () => {
  const doc = parseXml(`<t n="a &gt; b &quot;q&quot; &#x41;&#66;">x &amp;amp; y<![CDATA[<raw> &amp;]]></t>`);
  const t = doc.children[0];
  assert.equal(t.attrs.n, 'a > b "q" AB');
  assert.equal(t.text, "x &amp; y<raw> &amp;"); // decoded once only
  assert.equal(decodeEntities("&nope; &#x110000;"), "&nope; &#x110000;"); // unknown / out of range: left alone
});

test("a closing tag closes what was left open inside it; a stray one is ignored", () => {
  const doc = parseXml(`<s><c><x></s><d/></z>`);
  assert.deepEqual(names(doc), ["s", "d"]);
  assert.deepEqual(names(doc.children[0]), ["c"]);
});

test("a truncated report keeps everything before the cut", () => {
  const full = `<testsuites><testsuite name="f"><testcase name="one"/><testcase name="two"><failure message="boom">stack</failure></testcase><testcase name="three"/></testsuite></testsuites>`;
  const cut = full.slice(0, full.indexOf(`<testcase name="three"`) + 10);
  const suite = parseXml(cut).children[0].children[0];
  assert.deepEqual(suite.children.map((c) => c.attrs.name), ["one", "two"]);
  assert.equal(suite.children[1].children[0].attrs.message, "boom");
  // An unterminated comment or CDATA runs to the end instead of throwing.
  assert.deepEqual(names(parseXml(`<a/><!-- never closed <b/>`)), ["a"]);
  assert.equal(parseXml(`<a><![CDATA[half`).children[0].text, "half");
});
