// Types of check-repo-paths.mjs for the tests that import it.
export function codeComments(source: string): string;
export function hashComments(source: string): string;
export function namedPaths(text: string, topLevel: string[]): string[];
export function markdownLinks(text: string): string[];
export function danglingReferences(root: string, files: string[]): string[];
