// The layer chooser (issue 31): every `layer` setting (Grad-CAM's family, Inside's activations, channel and
// DeepDream) is a <select> (www/panels.js) listing the model's layers with their shapes, as the engine reports
// them (modelInfo().layers: every 4-D value after the input, in graph order), for SqueezeNet and a user's model.
import { on } from './bus.js';
import { engine } from './engine.js';
import { el } from './ui.js';

/** Fills every layer chooser from the model in use, keeping each one's value. */
export function fillLayerChoosers() {
  const layers = engine.model?.info?.layers;
  if (!Array.isArray(layers) || layers.length === 0) return;
  for (const select of document.querySelectorAll('select[data-layers]')) {
    const value = select.value;
    select.replaceChildren(...layers.map((l) => el('option', { value: l.name, text: `${l.name} [${l.shape.join('×')}]` })));
    // The method's default (a SqueezeNet layer) on another model means that model's last layer (the engine's
    // layer_or_default); any other value the model lacks (a link made for another model) stays, and the run says so.
    if (value && !layers.some((l) => l.name === value)) {
      const last = layers[layers.length - 1];
      const text = value === select.dataset.layers ? `the last layer: ${last.name} [${last.shape.join('×')}]` : `${value} (not in this model)`;
      select.append(el('option', { value, text }));
    }
    select.value = value || layers[layers.length - 1].name;
  }
}

export function setupLayerChoosers() {
  // After app.js's handlers: the panels are (re)built by then.
  for (const event of ['ready', 'model-changed', 'schema', 'state']) on(event, () => queueMicrotask(fillLayerChoosers));
}
