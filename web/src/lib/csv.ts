// CSV as RFC 4180 writes it: fields separated by commas, records by CRLF or LF, a field in
// double quotes may hold commas, newlines and "" for a quote. A leading byte-order mark and a
// final newline are ignored.

export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let quoted = false;
  let fieldStarted = false;
  const endField = () => {
    row.push(field);
    field = '';
    fieldStarted = false;
  };
  const endRow = () => {
    endField();
    rows.push(row);
    row = [];
  };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += c;
      i++;
      continue;
    }
    if (c === '"' && !fieldStarted) {
      quoted = true;
      fieldStarted = true;
      i++;
    } else if (c === ',') {
      endField();
      i++;
    } else if (c === '\r' && text[i + 1] === '\n') {
      endRow();
      i += 2;
    } else if (c === '\n' || c === '\r') {
      endRow();
      i++;
    } else {
      field += c;
      fieldStarted = true;
      i++;
    }
  }
  if (fieldStarted || row.length > 0) endRow();
  return rows;
}

export interface Prediction {
  index: number;
  label: number;
  predicted: number;
  confidence: number;  // the probability of the predicted class; NaN without p_* columns
  probs: Float32Array;
}

export interface Predictions {
  rows: Prediction[];
  numClasses: number;
}

// The predictions CSV of an evaluation (`index,label,predicted,p_0..p_{K-1}`); columns are found
// by name, so their order and extra columns do not matter. Throws naming the line of a bad row.
export function parsePredictions(text: string): Predictions {
  const table = parseCsv(text);
  if (table.length === 0) throw new Error('predictions CSV: empty');
  const header = table[0].map((h) => h.trim());
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`predictions CSV: no column '${name}' in the header`);
    return i;
  };
  const iIndex = col('index');
  const iLabel = col('label');
  const iPred = col('predicted');
  const pCols: number[] = [];
  for (let k = 0; header.includes(`p_${k}`); k++) pCols.push(header.indexOf(`p_${k}`));
  const rows: Prediction[] = [];
  for (let r = 1; r < table.length; r++) {
    const line = table[r];
    if (line.length === 1 && line[0] === '') continue;
    const int = (i: number, what: string) => {
      const v = Number(line[i]);
      if (line[i] === undefined || line[i].trim() === '' || !Number.isInteger(v)) {
        throw new Error(`predictions CSV line ${r + 1}: ${what} '${line[i] ?? ''}' is not an integer`);
      }
      return v;
    };
    const probs = new Float32Array(pCols.length);
    pCols.forEach((c, k) => (probs[k] = Number(line[c])));
    const predicted = int(iPred, 'predicted');
    rows.push({
      index: int(iIndex, 'index'),
      label: int(iLabel, 'label'),
      predicted,
      confidence: predicted >= 0 && predicted < probs.length ? probs[predicted] : NaN,
      probs,
    });
  }
  let numClasses = pCols.length;
  for (const p of rows) numClasses = Math.max(numClasses, p.label + 1, p.predicted + 1);
  return { rows, numClasses };
}

// Misclassified first, each group by confidence, highest first (the confident mistakes are the
// interesting ones), then by index.
export function orderMisclassifiedFirst(rows: readonly Prediction[]): Prediction[] {
  return [...rows].sort((a, b) => {
    const wa = a.label !== a.predicted ? 0 : 1;
    const wb = b.label !== b.predicted ? 0 : 1;
    if (wa !== wb) return wa - wb;
    const ca = Number.isNaN(a.confidence) ? -1 : a.confidence;
    const cb = Number.isNaN(b.confidence) ? -1 : b.confidence;
    if (ca !== cb) return cb - ca;
    return a.index - b.index;
  });
}

// The rows of one confusion-matrix cell: true class `label`, predicted `predicted`.
export function cellRows(rows: readonly Prediction[], label: number, predicted: number): Prediction[] {
  return orderMisclassifiedFirst(rows.filter((p) => p.label === label && p.predicted === predicted));
}
