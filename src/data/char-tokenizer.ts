/** A character-level tokenizer: one id per distinct character of the training text (nanoGPT's shakespeare_char). */
import { ArgumentError } from '../errors.js';

export class CharTokenizer {
  private readonly index: Map<string, number>;

  constructor(readonly chars: readonly string[]) {
    if (new Set(chars).size !== chars.length) throw new ArgumentError('CharTokenizer: the vocabulary has repeated characters');
    this.index = new Map(chars.map((c, i) => [c, i]));
  }

  /** The sorted set of characters (code points) in `text`. */
  static fromText(text: string): CharTokenizer {
    return new CharTokenizer([...new Set(Array.from(text))].sort());
  }

  get vocabSize(): number {
    return this.chars.length;
  }

  encode(text: string): Int32Array {
    const cps = Array.from(text);
    const out = new Int32Array(cps.length);
    cps.forEach((c, i) => {
      const id = this.index.get(c);
      if (id === undefined) throw new ArgumentError(`CharTokenizer.encode: character ${JSON.stringify(c)} (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}) at position ${i} is not in the vocabulary`);
      out[i] = id;
    });
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const c = this.chars[ids[i]];
      if (c === undefined) throw new ArgumentError(`CharTokenizer.decode: id ${ids[i]} at position ${i} is outside the vocabulary (size ${this.vocabSize})`);
      s += c;
    }
    return s;
  }

  toJSON(): { type: 'char'; chars: string[] } {
    return { type: 'char', chars: [...this.chars] };
  }

  static fromJSON(j: unknown): CharTokenizer {
    const o = j as { type?: string; chars?: unknown };
    if (!o || o.type !== 'char' || !Array.isArray(o.chars) || !o.chars.every((c) => typeof c === 'string')) {
      throw new ArgumentError('CharTokenizer.fromJSON: expected { type: "char", chars: string[] }');
    }
    return new CharTokenizer(o.chars as string[]);
  }
}
