export { parseAndValidate, validateSource, validateValue, formatPath, type Validated } from './validate.js';
export { parseYaml, positionOf, nodeAt, pointerToPath, type YamlSource, type DataPath, type Position } from './yaml-source.js';
export { closest, didYouMean } from './closest.js';
export { prevalidatedValue } from './precompiled.js';
