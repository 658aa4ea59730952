// Mantine keeps a closed dropdown's listbox in the DOM, labelled by the
// input's label, so a label would name two elements (the input and a hidden
// list). Unmounting closed dropdowns leaves one labelled element per field.
export const COMBOBOX_PROPS = { keepMounted: false } as const;
