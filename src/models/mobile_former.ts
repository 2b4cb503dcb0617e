/** Mobile-Former (placeholder until the family lands). */
import type { ModelSpec } from './types.js';
export const MOBILE_FORMER_SPECS: ModelSpec[] = [];
