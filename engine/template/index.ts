export { shellQuote } from './quote.js';
export { renderTemplate, type RenderOptions } from './render.js';
export { secretNames, requiredSecretNames, parseTemplate, templateReferences, type TemplateReference } from './references.js';
export { KNOWN_HELPERS, secretEnvName } from './environment.js';
export { templateHost, templateInventory, type TemplateContext, type TemplateHost, type RenderSite } from './context.js';
export { hostTemporary, removeOnExit } from './host-temp.js';
