// A rule's condition: a small expression language (`hasPassed == false and previous.progressPercent < 80`), parsed once, evaluated purely.

export type Value = string | number | boolean | null;

export type Condition =
  | { kind: 'literal'; value: Value }
  | { kind: 'field'; path: string }
  | { kind: 'compare'; op: '==' | '!=' | '<' | '<=' | '>' | '>='; left: Condition; right: Condition }
  | { kind: 'and' | 'or'; left: Condition; right: Condition }
  | { kind: 'not'; operand: Condition };

export class ConditionError extends Error {
  override name = 'ConditionError';
}

type Token = { kind: 'name' | 'number' | 'string' | 'op' | 'paren'; text: string; at: number };

const tokenPattern = /\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][\w.]*)|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(==|!=|<=|>=|<|>|&&|\|\||!)|([()]))/y;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  tokenPattern.lastIndex = 0;
  let position = 0;
  while (position < text.length) {
    if (/^\s*$/.test(text.slice(position))) break;
    tokenPattern.lastIndex = position;
    const match = tokenPattern.exec(text);
    if (!match) {
      const rest = text.slice(position);
      const at = position + rest.length - rest.trimStart().length;
      throw new ConditionError(`unexpected "${rest.trim().slice(0, 10)}" at character ${at + 1}`);
    }
    const at = match.index + (match[0].length - match[0].trimStart().length);
    if (match[1] !== undefined) tokens.push({ kind: 'number', text: match[1], at });
    else if (match[2] !== undefined) tokens.push({ kind: 'name', text: match[2], at });
    else if (match[3] !== undefined) tokens.push({ kind: 'string', text: match[3], at });
    else if (match[4] !== undefined) tokens.push({ kind: 'op', text: match[4], at });
    else tokens.push({ kind: 'paren', text: match[5] as string, at });
    position = tokenPattern.lastIndex;
  }
  return tokens;
}

const comparisons = new Set(['==', '!=', '<', '<=', '>', '>=']);

/** Parses a condition; the error says what was expected and where. */
export function parseCondition(text: string): Condition {
  const tokens = tokenize(text);
  let index = 0;
  const peek = () => tokens[index];
  const describe = (token: Token | undefined) => (token ? `"${token.text}" at character ${token.at + 1}` : 'the end');
  const isWord = (token: Token | undefined, word: string) => token?.kind === 'name' && token.text.toLowerCase() === word;

  const primary = (): Condition => {
    const token = peek();
    if (!token) throw new ConditionError('the condition ends too early');
    index++;
    if (token.kind === 'paren' && token.text === '(') {
      const inner = or();
      if (peek()?.text !== ')') throw new ConditionError(`expected ")" but found ${describe(peek())}`);
      index++;
      return inner;
    }
    if (token.kind === 'number') return { kind: 'literal', value: Number(token.text) };
    if (token.kind === 'string') return { kind: 'literal', value: token.text.slice(1, -1).replace(/\\(.)/g, '$1') };
    if (token.kind === 'name') {
      const word = token.text.toLowerCase();
      if (word === 'true' || word === 'false') return { kind: 'literal', value: word === 'true' };
      if (word === 'null') return { kind: 'literal', value: null };
      return { kind: 'field', path: token.text };
    }
    throw new ConditionError(`expected a field, a number, a 'string', true, false or null but found ${describe(token)}`);
  };
  const comparison = (): Condition => {
    const left = primary();
    const token = peek();
    if (token?.kind === 'op' && comparisons.has(token.text)) {
      index++;
      return { kind: 'compare', op: token.text as '==', left, right: primary() };
    }
    return left;
  };
  const not = (): Condition => {
    if (isWord(peek(), 'not') || peek()?.text === '!') {
      index++;
      return { kind: 'not', operand: not() };
    }
    return comparison();
  };
  const and = (): Condition => {
    let left = not();
    while (isWord(peek(), 'and') || peek()?.text === '&&') {
      index++;
      left = { kind: 'and', left, right: not() };
    }
    return left;
  };
  const or = (): Condition => {
    let left = and();
    while (isWord(peek(), 'or') || peek()?.text === '||') {
      index++;
      left = { kind: 'or', left, right: and() };
    }
    return left;
  };
  if (tokens.length === 0) throw new ConditionError('the condition is empty');
  const condition = or();
  if (index < tokens.length) throw new ConditionError(`expected "and", "or" or the end but found ${describe(peek())}`);
  return condition;
}

/** Every field a condition reads, e.g. `hasPassed`, `previous.progressPercent`. */
export function conditionFields(condition: Condition): string[] {
  switch (condition.kind) {
    case 'literal':
      return [];
    case 'field':
      return [condition.path];
    case 'not':
      return conditionFields(condition.operand);
    default:
      return [...conditionFields(condition.left), ...conditionFields(condition.right)];
  }
}

function read(facts: Readonly<Record<string, unknown>>, path: string): Value {
  let value: unknown = facts;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null) return null;
    value = (value as Record<string, unknown>)[part];
  }
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : null;
}

function value(condition: Condition, facts: Readonly<Record<string, unknown>>): Value {
  switch (condition.kind) {
    case 'literal':
      return condition.value;
    case 'field':
      return read(facts, condition.path);
    default:
      return holds(condition, facts);
  }
}

/**
 * Whether the condition holds for the facts. A missing value is null: it equals only null, and an order comparison
 * with it is false, so `previous.seatsAvailable == 0` is false when there was no earlier record.
 */
export function holds(condition: Condition, facts: Readonly<Record<string, unknown>>): boolean {
  switch (condition.kind) {
    case 'and':
      return holds(condition.left, facts) && holds(condition.right, facts);
    case 'or':
      return holds(condition.left, facts) || holds(condition.right, facts);
    case 'not':
      return !holds(condition.operand, facts);
    case 'compare': {
      const left = value(condition.left, facts);
      const right = value(condition.right, facts);
      if (condition.op === '==') return left === right;
      if (condition.op === '!=') return left !== right;
      if (left === null || right === null || typeof left !== typeof right) return false;
      if (condition.op === '<') return left < right;
      if (condition.op === '<=') return left <= right;
      if (condition.op === '>') return left > right;
      return left >= right;
    }
    case 'literal':
    case 'field':
      return value(condition, facts) === true;
  }
}
