// The parts of node:test and node:assert/strict the tests use, for tsc (there is no @types/node
// in this project; node itself supplies the modules at run time).
declare module 'node:test' {
  type Body = () => void | Promise<void>;
  export function test(name: string, fn: Body): Promise<void>;
  export function describe(name: string, fn: () => void): void;
  export default test;
}

declare module 'node:assert/strict' {
  interface Assert {
    (value: unknown, message?: string): asserts value;
    ok(value: unknown, message?: string): asserts value;
    equal<T>(actual: unknown, expected: T, message?: string): asserts actual is T;
    notEqual(actual: unknown, expected: unknown, message?: string): void;
    deepEqual<T>(actual: unknown, expected: T, message?: string): asserts actual is T;
    throws(fn: () => unknown, expected?: RegExp | ((e: unknown) => boolean), message?: string): void;
    match(value: string, re: RegExp, message?: string): void;
    rejects(promise: Promise<unknown>, expected?: RegExp | ((e: unknown) => boolean), message?: string): Promise<void>;
  }
  const assert: Assert;
  export default assert;
}
