/**
 * `v` ("MAJOR.MINOR[.…]", e.g. a CNI cniVersion, a kernel release "6.1.0-18-amd64", a runtime's
 * version) is at least major.minor; a missing part counts as 0, one that is not a number never passes.
 */
export function versionAtLeast(v: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = v.split('.', 2).map((n) => Number.parseInt(n, 10));
  return a > major || (a === major && b >= minor);
}
