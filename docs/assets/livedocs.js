// Code annotations (`content.code.annotate`): the theme's scripts turn each `# (1)` marker into a
// link whose only content is an empty span, its number drawn by CSS, so a screen reader has no
// name to announce (axe-core's link-name). Each marker link is named "Annotation 1", "Annotation 2",
// ... by its number, as soon as the theme adds it to the page.
(() => {
  const SELECTOR = "a.md-annotation__index:not([aria-label])";

  function name(link) {
    const number = link.querySelector("[data-md-annotation-id]")?.dataset.mdAnnotationId;
    link.setAttribute("aria-label", number ? `Annotation ${number}` : "Annotation");
  }

  function nameWithin(node) {
    if (!(node instanceof Element)) return;
    if (node.matches(SELECTOR)) name(node);
    node.querySelectorAll(SELECTOR).forEach(name);
  }

  new MutationObserver((records) => {
    for (const record of records) record.addedNodes.forEach(nameWithin);
  }).observe(document.documentElement, { childList: true, subtree: true });
  nameWithin(document.documentElement);
})();

// Code blocks wider than the page scroll sideways; the theme makes such a block focusable
// (tabindex=0, where the reader has a pointer that can hover) so a keyboard can scroll it too. It
// measures a block once it has a size, but a block in a content tab that is not shown has none, and
// the theme then watches the tab's container, which keeps its size when another tab is chosen: the
// wide blocks of the second image store's tab stayed out of reach of the keyboard (axe-core's
// scrollable-region-focusable). Each block is watched itself here, by the same rule; and so is each
// table's scrolling frame, which the theme never makes focusable (a table wider than a narrow window).
(() => {
  const SCROLLING = ".highlight pre > code, .md-typeset__scrollwrap";
  const hover = matchMedia("(hover)").matches;
  const sized = new ResizeObserver((entries) => {
    for (const { target } of entries) {
      if (!target.clientWidth) continue; // hidden again: keep what it had while shown
      if (hover && target.scrollWidth > target.clientWidth) target.setAttribute("tabindex", "0");
      else target.removeAttribute("tabindex");
    }
  });

  function watchWithin(node) {
    if (!(node instanceof Element)) return;
    if (node.matches(SCROLLING)) sized.observe(node);
    node.querySelectorAll(SCROLLING).forEach((element) => sized.observe(element));
  }

  // (The theme wraps the tables in their frames from its own script: they are watched as they come.)
  new MutationObserver((records) => {
    for (const record of records) record.addedNodes.forEach(watchWithin);
  }).observe(document.documentElement, { childList: true, subtree: true });
  watchWithin(document.documentElement);
})();
