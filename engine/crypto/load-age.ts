/** age and its ~50 crypto modules load only for a run that encrypts or reads an encrypted object. */
export function loadAge(): Promise<typeof import('./age.js')> {
  return import('./age.js');
}
