// Which rows a virtually scrolled list renders: the rows in view plus `overscan` on each side,
// and the heights of the spacers above and below them. Rows have one fixed height.

export interface VisibleWindow {
  start: number;      // first rendered row
  end: number;        // one past the last rendered row
  padTop: number;     // pixels above `start`
  padBottom: number;  // pixels below `end`
}

export function visibleWindow(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  count: number,
  overscan = 8,
): VisibleWindow {
  if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0, padTop: 0, padBottom: 0 };
  const top = Math.max(0, scrollTop);
  const first = Math.min(count - 1, Math.floor(top / rowHeight));
  const last = Math.min(count, Math.ceil((top + Math.max(0, viewportHeight)) / rowHeight));
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, Math.max(last, first + 1) + overscan);
  return { start, end, padTop: start * rowHeight, padBottom: (count - end) * rowHeight };
}

// The scrollTop that brings row `index` fully into view, or null when it already is.
export function scrollToRow(
  index: number,
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  headerHeight = 0,
): number | null {
  const top = index * rowHeight;
  const bottom = top + rowHeight;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + viewportHeight - headerHeight) return bottom - viewportHeight + headerHeight;
  return null;
}
