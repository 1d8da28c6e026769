export { authoringProblems, loadRecipes, validateRecipes, parseRecipe } from './load.js';
export { checkRecipeTemplates, templatedStrings } from './template-check.js';
export { recipeSchema } from './schema.js';
export type * from './types.js';
