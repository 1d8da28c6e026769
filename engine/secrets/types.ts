/**
 * Secrets are named values resolved from the environment, a file or a command. Every value
 * resolved in a run is registered with that run's Redactor, and everything lsbackup prints or
 * stores passes through it (one central place, tested).
 */
export interface SecretSource {
  /** Resolve a secret by name; throws LsError ESECRET when it cannot. */
  resolve(name: string): Promise<string>;
}

/** The secrets a run's recipes reference: the values, and why each missing one could not be had. */
export interface ResolvedSecrets {
  values: Map<string, string>;
  missing: Map<string, string>;
}

export interface Redactor {
  /**
   * Remember a value that must never be shown: whole, and each of its lines (output is cut into
   * lines). `setting` names where it comes from (`secret 'PIN'`, a target's option, a
   * notification's header), never the value. A value or line shorter than MIN_SECRET_LENGTH is
   * not masked: its setting is kept for the run's warning (takeUnmaskable).
   */
  add(value: string, setting: string): void;
  /** The settings added since the last call whose value (or a line of it) is too short to be masked. */
  takeUnmaskable(): string[];
  /** Replace every known secret value in text with '***'. */
  redact(text: string): string;
  /** Deep-redact every string in a JSON-like value. */
  redactValue<T>(value: T): T;
  /** Whether this is, whole, a value given to add(). */
  isSecret(value: string): boolean;
  /** False while no secret is known, so there is nothing to mask (a hot path may skip redactValue's copy). */
  hasSecrets(): boolean;
}
