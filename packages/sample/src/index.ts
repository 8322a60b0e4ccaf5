/**
 * @synthline/sample: LMSYS-Chat-1M-shaped sample data generated from a seed (`synthline sample`),
 * with the ground truth of what is planted in it.
 */
export * as Sample from "./Sample.js"
