/**
 * A strict little XML reader for the SVG the replay draws: elements, attributes (double-quoted),
 * text and the five predefined entities plus numeric references. Anything else — an unquoted or
 * single-quoted attribute, a raw `<` or `&` in text, a comment, CDATA, a processing instruction, an
 * unclosed or mismatched tag — throws: what the test reads back is exactly what a browser would.
 */
export interface XmlElement {
  readonly name: string
  readonly attributes: ReadonlyMap<string, string>
  readonly children: ReadonlyArray<XmlElement | string>
}

const ENTITY = /&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/g
const NAMED: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'" }

const decode = (raw: string, where: string): string => {
  if (/[<]/.test(raw) || /&(?!(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)/.test(raw)) throw new Error(`raw markup in ${where}: ${raw.slice(0, 80)}`)
  return raw.replace(ENTITY, (_, name: string) =>
    name.startsWith("#x") ? String.fromCodePoint(Number.parseInt(name.slice(2), 16)) : name.startsWith("#") ? String.fromCodePoint(Number.parseInt(name.slice(1), 10)) : NAMED[name] ?? "")
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*/

export const parseXml = (text: string): XmlElement => {
  let at = 0
  const fail = (what: string): never => {
    throw new Error(`${what} at ${at}: ${JSON.stringify(text.slice(at, at + 60))}`)
  }
  const skipSpace = () => {
    while (at < text.length && /\s/.test(text[at]!)) at++
  }
  const element = (): XmlElement => {
    if (text[at] !== "<") fail("expected <")
    at++
    const name = NAME.exec(text.slice(at))?.[0] ?? fail("expected a tag name")
    at += name.length
    const attributes = new Map<string, string>()
    for (;;) {
      skipSpace()
      if (text.startsWith("/>", at)) {
        at += 2
        return { name, attributes, children: [] }
      }
      if (text[at] === ">") {
        at++
        break
      }
      const attribute = NAME.exec(text.slice(at))?.[0] ?? fail("expected an attribute")
      at += attribute.length
      if (text[at] !== "=" || text[at + 1] !== "\"") fail("expected =\"")
      const end = text.indexOf("\"", at + 2)
      if (end < 0) fail("unterminated attribute")
      if (attributes.has(attribute)) fail(`attribute ${attribute} twice`)
      attributes.set(attribute, decode(text.slice(at + 2, end), `attribute ${attribute}`))
      at = end + 1
    }
    const children: Array<XmlElement | string> = []
    for (;;) {
      if (at >= text.length) fail(`unclosed <${name}>`)
      if (text.startsWith("</", at)) {
        const close = `</${name}>`
        if (!text.startsWith(close, at)) fail(`expected ${close}`)
        at += close.length
        return { name, attributes, children }
      }
      if (text.startsWith("<!", at) || text.startsWith("<?", at)) fail("comments, CDATA and instructions are not expected")
      if (text[at] === "<") {
        children.push(element())
        continue
      }
      const next = text.indexOf("<", at)
      const end = next < 0 ? text.length : next
      children.push(decode(text.slice(at, end), `<${name}> text`))
      at = end
    }
  }
  skipSpace()
  const root = element()
  skipSpace()
  if (at !== text.length) fail("content after the root element")
  return root
}

/** Every element below (and including) `root`, depth first. */
export const descendants = (root: XmlElement): ReadonlyArray<XmlElement> => {
  const all: XmlElement[] = []
  const walk = (element: XmlElement) => {
    all.push(element)
    for (const child of element.children) if (typeof child !== "string") walk(child)
  }
  walk(root)
  return all
}

/** The text directly inside an element (not that of its children). */
export const ownText = (element: XmlElement): string => element.children.filter((child): child is string => typeof child === "string").join("")
