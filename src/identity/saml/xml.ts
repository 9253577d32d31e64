import { DOMParser } from '@xmldom/xmldom';

/** Namespaces of the SAML 2.0 core and XML-DSig specifications. */
export const NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
} as const;

/**
 * Parses XML with the same parser node-saml verifies signatures with (so both read the same tree), but
 * stricter: xmldom only warns about unclosed or mismatched tags and repairs them, here any warning refuses. DTDs are refused outright: SAML messages must not carry one (SAML core
 * §1.3) and refusing them closes entity-expansion tricks before they reach any parser.
 */
export function parseXml(xml: string): Document {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new Error('XML with a DTD is not accepted');
  let problem: string | undefined;
  const fail = (msg: string) => {
    problem ??= msg;
  };
  const doc = new DOMParser({ locator: {}, errorHandler: { warning: fail, error: fail, fatalError: fail } }).parseFromString(xml, 'text/xml');
  if (problem !== undefined || !doc?.documentElement) throw new Error('malformed XML');
  return doc;
}

/** Direct child elements with the given namespace and local name. */
export function children(el: Element, ns: string, localName: string): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as Element).localName === localName && (n as Element).namespaceURI === ns) out.push(n as Element);
  }
  return out;
}

export function child(el: Element | undefined, ns: string, localName: string): Element | undefined {
  return el ? children(el, ns, localName)[0] : undefined;
}

/** Descendant elements (any depth) with the given namespace and local name. */
export function descendants(el: Element, ns: string, localName: string): Element[] {
  return Array.from(el.getElementsByTagNameNS(ns, localName));
}

/** Text content, trimmed; undefined when the element is missing. */
export function text(el: Element | undefined): string | undefined {
  return el ? (el.textContent ?? '').trim() : undefined;
}

/** An attribute's value, or undefined when it is absent (xmldom returns '' for absent attributes). */
export function attr(el: Element | undefined, name: string): string | undefined {
  return el && el.hasAttribute(name) ? el.getAttribute(name) ?? undefined : undefined;
}
