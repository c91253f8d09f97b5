/**
 * Streams the elements of a JSON array out of a document too large to parse at once. It scans
 * structure only (brackets, strings, escapes) and hands each element's text to JSON.parse, so
 * memory is bounded by the largest element, not the document.
 *
 * Two shapes are understood: a top-level array (`[ev, ev, ...]`) and an API envelope
 * (`{"success":true,"result":[ev, ...], ...}`). A top-level object without `result` is taken as
 * a single event.
 */
export interface SplitElement {
  text: string;
  /** 1-based line where the element starts. */
  line: number;
}

const MAX_FIELD_TEXT = 1 << 20; // envelope fields other than `result` are small; cap what we keep
const MAX_SINGLE_OBJECT = 64 << 20;

// Character codes the scanner looks at.
const Ch = {
  Quote: 34,
  Backslash: 92,
  Comma: 44,
  Colon: 58,
  OpenBracket: 91,
  CloseBracket: 93,
  OpenBrace: 123,
  CloseBrace: 125,
  Newline: 10,
  Space: 32,
  Tab: 9,
  Return: 13,
} as const;

function isWhitespace(c: number): boolean {
  return c === Ch.Space || c === Ch.Newline || c === Ch.Return || c === Ch.Tab;
}

export class JsonSplitError extends Error {
  /** `tooLong`: an element over the splitter's `maxElement` (the stream is valid so far). */
  constructor(
    message: string,
    readonly line: number,
    readonly tooLong = false,
  ) {
    super(message);
  }
}

export class JsonElementSplitter {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private line = 1;
  private topKind: 'array' | 'object' | undefined;
  /** Depth at which elements of the target array live (1 for a top-level array). */
  private elementDepth = -1;
  private inElement = false;
  private elementIsString = false;
  private elementParts: string[] = [];
  private elementLine = 0;
  // Envelope bookkeeping (top-level object only).
  private lastTopString: string[] | undefined;
  private currentKey: string | undefined;
  private fieldParts: string[] | undefined;
  private fieldLength = 0;
  private fieldKey: string | undefined;
  private readonly fields = new Map<string, string>();
  private wholeParts: string[] = [];
  private wholeLength = 0;
  private done = false;
  private sawEnvelopeKey = false;

  /** Characters of the element being read, when `maxElement` is set. */
  private elementLength = 0;

  /** `maxElement`: the longest element taken, in characters (a stream open to the internet). */
  constructor(
    private readonly emit: (element: SplitElement) => void,
    private readonly maxElement = Number.POSITIVE_INFINITY,
  ) {}

  /** Scans a chunk, emitting every element that completes inside it. */
  push(chunk: string): void {
    let elementStart = this.inElement ? 0 : -1;
    let fieldStart = this.fieldParts ? 0 : -1;
    let stringStart = this.lastTopString && this.inString ? 0 : -1;
    if (this.topKind === 'object') this.keepWhole(chunk);
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c === Ch.Newline) this.line++;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === Ch.Backslash) this.escaped = true;
        else if (c === Ch.Quote) {
          this.inString = false;
          if (stringStart !== -1 && this.lastTopString) {
            this.lastTopString.push(chunk.slice(stringStart, i + 1));
            stringStart = -1;
          }
          if (this.inElement && this.elementIsString && this.depth === this.elementDepth) {
            this.finishElement(chunk, elementStart, i + 1);
            elementStart = -1;
          }
        }
        continue;
      }
      if (this.done) {
        if (!isWhitespace(c)) throw new JsonSplitError('unexpected data after the end of the JSON document', this.line);
        continue;
      }
      // A primitive element (number, true, null) ends at a delimiter at its own depth.
      if (
        this.inElement &&
        !this.elementIsString &&
        this.depth === this.elementDepth &&
        (c === Ch.Comma || c === Ch.CloseBracket || isWhitespace(c))
      ) {
        this.finishElement(chunk, elementStart, i);
        elementStart = -1;
      }
      if (
        this.depth === this.elementDepth &&
        !this.inElement &&
        !isWhitespace(c) &&
        c !== Ch.Comma &&
        c !== Ch.CloseBracket
      ) {
        this.inElement = true;
        this.elementIsString = c === Ch.Quote;
        this.elementLine = this.line;
        elementStart = i;
      }
      if (
        this.topKind === 'object' &&
        this.depth === 1 &&
        this.currentKey !== undefined &&
        this.currentKey !== 'result' &&
        !this.fieldParts &&
        !isWhitespace(c) &&
        c !== Ch.Comma &&
        c !== Ch.CloseBrace
      ) {
        this.fieldParts = [];
        this.fieldLength = 0;
        this.fieldKey = this.currentKey;
        fieldStart = i;
      }
      switch (c) {
        case Ch.Quote:
          this.inString = true;
          if (this.topKind === 'object' && this.depth === 1 && this.currentKey === undefined) {
            this.lastTopString = [];
            stringStart = i;
          }
          break;
        case Ch.OpenBrace:
        case Ch.OpenBracket:
          if (this.depth === 0) {
            if (this.topKind !== undefined) throw new JsonSplitError('unexpected second JSON document', this.line);
            this.topKind = c === Ch.OpenBracket ? 'array' : 'object';
            if (this.topKind === 'array') this.elementDepth = 1;
            else this.keepWhole(chunk.slice(i));
          } else if (
            this.depth === 1 &&
            this.topKind === 'object' &&
            c === Ch.OpenBracket &&
            this.currentKey === 'result'
          ) {
            this.elementDepth = 2;
          }
          this.depth++;
          break;
        case Ch.CloseBrace:
        case Ch.CloseBracket:
          if (this.depth === 0) throw new JsonSplitError(`unexpected "${String.fromCharCode(c)}"`, this.line);
          this.depth--;
          if (this.inElement && this.depth === this.elementDepth && !this.elementIsString) {
            this.finishElement(chunk, elementStart, i + 1);
            elementStart = -1;
          }
          if (this.depth === 1 && this.elementDepth === 2 && this.topKind === 'object') {
            this.elementDepth = -1; // left the result array
            this.currentKey = undefined;
          }
          if (this.depth === 0) this.done = true;
          break;
        case Ch.Colon:
          if (this.topKind === 'object' && this.depth === 1 && this.lastTopString) {
            this.currentKey = safeParseString(this.lastTopString.join(''));
            this.lastTopString = undefined;
            if (this.currentKey === 'result' || this.currentKey === 'success') this.sawEnvelopeKey = true;
          }
          break;
        case Ch.Comma:
          if (this.topKind === 'object' && this.depth === 1) this.currentKey = undefined;
          break;
        default:
          if (this.depth === 0 && !isWhitespace(c))
            throw new JsonSplitError('expected a JSON array or object', this.line);
      }
      // A top-level field value ends at the comma or brace that closes it.
      if (this.fieldParts && this.depth <= 1 && (c === Ch.Comma || (c === Ch.CloseBrace && this.depth === 0))) {
        this.finishField(chunk, fieldStart, i);
        fieldStart = -1;
      }
    }
    if (this.inElement && elementStart !== -1) {
      const rest = chunk.slice(elementStart);
      this.elementLength += rest.length;
      this.checkElementLength(this.elementLength);
      this.elementParts.push(rest);
    }
    if (this.fieldParts && fieldStart !== -1) this.appendField(chunk.slice(fieldStart));
    if (stringStart !== -1 && this.lastTopString) this.lastTopString.push(chunk.slice(stringStart));
  }

  /** Ends the input. Returns the envelope's other fields (parsed when possible). */
  end(): { kind: 'array' | 'envelope' | 'single' | 'empty'; fields: Map<string, string> } {
    if (this.inElement && !this.elementIsString && this.depth === this.elementDepth) this.finishElement('', -1, 0);
    if (this.topKind === undefined) return { kind: 'empty', fields: this.fields };
    if (this.depth !== 0 || this.inString)
      throw new JsonSplitError('unexpected end of input: the JSON document is incomplete', this.line);
    if (this.topKind === 'array') return { kind: 'array', fields: this.fields };
    if (!this.sawEnvelopeKey) {
      this.emit({ text: this.wholeParts.join(''), line: 1 });
      return { kind: 'single', fields: this.fields };
    }
    return { kind: 'envelope', fields: this.fields };
  }

  /** Keeps the text of a top-level object in case it turns out to be one event, not an envelope. */
  private keepWhole(text: string): void {
    if (this.sawEnvelopeKey) {
      this.wholeParts = [];
      return;
    }
    this.wholeLength += text.length;
    if (this.wholeLength > MAX_SINGLE_OBJECT)
      throw new JsonSplitError(
        `a single JSON object over ${MAX_SINGLE_OBJECT >> 20} MiB without a "result" array is not an event`,
        this.line,
      );
    this.wholeParts.push(text);
  }

  private finishElement(chunk: string, start: number, end: number): void {
    if (start !== -1) this.elementParts.push(chunk.slice(start, end));
    const text = this.elementParts.join('');
    this.checkElementLength(text.length);
    this.elementParts = [];
    this.elementLength = 0;
    this.inElement = false;
    this.emit({ text, line: this.elementLine });
  }

  private checkElementLength(length: number): void {
    if (length > this.maxElement)
      throw new JsonSplitError(`an element longer than ${this.maxElement} characters`, this.elementLine, true);
  }

  private appendField(text: string): void {
    if (!this.fieldParts) return;
    if (this.fieldLength + text.length <= MAX_FIELD_TEXT) this.fieldParts.push(text);
    this.fieldLength += text.length;
  }

  private finishField(chunk: string, start: number, end: number): void {
    if (start !== -1) this.appendField(chunk.slice(start, end));
    if (this.fieldKey !== undefined && this.fieldParts) this.fields.set(this.fieldKey, this.fieldParts.join('').trim());
    this.fieldParts = undefined;
    this.fieldKey = undefined;
  }
}

function safeParseString(text: string): string | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
