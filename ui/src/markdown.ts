/**
 * Agents write the content, so it is untrusted: markdown is rendered by marked, then everything it
 * produced goes through DOMPurify before it touches the DOM.
 */
import DOMPurify from 'dompurify';
import { marked } from 'marked';

marked.setOptions({ gfm: true, breaks: true, async: false });

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  // Links open outside the dashboard and cannot reach back to it.
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow');
  }
  // An agent's image without a text alternative still gets one, so a screen reader says what it is.
  if (node.tagName === 'IMG' && !node.hasAttribute('alt')) node.setAttribute('alt', 'image (no description)');
});

export function renderMarkdown(text: string): string {
  const html = marked.parse(text, { async: false });
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
}
