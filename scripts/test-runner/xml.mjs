// A tolerant XML reader, just enough for JUnit reports.
//
// Hand-written on purpose: a runtime that timed out or was killed leaves a
// truncated report, and we still want the tests it did record. Unclosed
// elements, comments and CDATA simply end at the end of the input instead of
// throwing. It also keeps the runner free of dependencies, so that a broken
// `npm ci` is still reported through the usual summary line.
//
// Result: { name, attrs, children, text } nodes under a "#root" node; element
// names are lower-cased, attribute values and text are entity-decoded.

const ENTITIES = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

export function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (m, e) => {
    if (e[0] === "#") {
      const cp = e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      try {
        return String.fromCodePoint(cp);
      } catch {
        return m; // out of range: leave it as written
      }
    }
    return ENTITIES[e] ?? m;
  });
}

function parseAttrs(s) {
  const attrs = {};
  const re = /([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>/]+)))?/g;
  let m;
  while ((m = re.exec(s))) attrs[m[1]] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? "");
  return attrs;
}

// One regex alternation per token kind: comment, CDATA (group 1), processing
// instruction, doctype, closing tag (2), opening tag (3 name, 4 attrs, 5 "/").
const TOKEN =
  /<!--[\s\S]*?(?:-->|$)|<!\[CDATA\[([\s\S]*?)(?:\]\]>|$)|<\?[\s\S]*?(?:\?>|$)|<![^>]*>|<\/\s*([^\s>]+)\s*>|<([A-Za-z_][^\s/>]*)((?:\s+[^\s=/>]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>/]+))?)*)\s*(\/?)>/g;

export function parseXml(src) {
  const root = { name: "#root", attrs: {}, children: [], text: "" };
  const stack = [root];
  const re = new RegExp(TOKEN); // own lastIndex, so calls never interfere
  let last = 0;
  let m;
  while ((m = re.exec(src))) {
    const top = stack[stack.length - 1];
    if (m.index > last) top.text += decodeEntities(src.slice(last, m.index));
    last = re.lastIndex;
    if (m[1] !== undefined) {
      top.text += m[1];
    } else if (m[2] !== undefined) {
      // Close the nearest open element of that name (and anything left open
      // inside it); a stray closing tag is ignored.
      const name = m[2].toLowerCase();
      for (let i = stack.length - 1; i > 0; i--) {
        if (stack[i].name === name) {
          stack.length = i;
          break;
        }
      }
    } else if (m[3] !== undefined) {
      const el = { name: m[3].toLowerCase(), attrs: parseAttrs(m[4] || ""), children: [], text: "" };
      top.children.push(el);
      if (!m[5]) stack.push(el);
    }
  }
  return root;
}
