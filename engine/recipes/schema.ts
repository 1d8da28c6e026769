import schema from '../../schemas/recipe.schema.json' with { type: 'json' };

/** The published recipe schema (schemas/recipe.schema.json), also what the loader validates against. */
export const recipeSchema = schema as typeof schema & { $id: string };
