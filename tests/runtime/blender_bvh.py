"""Run inside Blender's Python (``python blender_bvh.py FILE.bvh SCALE`` where ``import bpy`` works, or
``blender --background --factory-startup --python blender_bvh.py -- FILE.bvh SCALE``): import a BVH
with Blender's own importer (``bpy.ops.import_anim.bvh``, ``global_scale=SCALE``, its other options
at their defaults) into an empty factory scene and print, as one JSON line, what Blender made of it:
bones, frames, and the armature's height in metres (Blender units x the scene's unit scale) at rest
and in the first frame (highest minus lowest bone head or tail, along Blender's Z up)."""
import json
import sys

import bpy

path, scale = sys.argv[-2], float(sys.argv[-1])
bpy.ops.wm.read_factory_settings(use_empty=True)
importer = bpy.ops.import_anim.bvh.get_rna_type().properties
result = bpy.ops.import_anim.bvh(filepath=path, global_scale=scale)
armature = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
scene, units = bpy.context.scene, bpy.context.scene.unit_settings
metres_per_unit = units.scale_length  # Blender's metric scene: 1 Blender unit = scale_length m
start, end = armature.animation_data.action.frame_range
world = armature.matrix_world


def height(points):
    z = [(world @ p).z for p in points]
    return (max(z) - min(z)) * metres_per_unit


rest = height([p for b in armature.data.bones for p in (b.head_local, b.tail_local)])
scene.frame_set(int(start))
first = height([p for b in armature.pose.bones for p in (b.head, b.tail)])
print("KFUSION_BLENDER " + json.dumps({
    "blender": bpy.app.version_string, "result": sorted(result), "bones": len(armature.data.bones),
    "frames": int(round(end - start)) + 1, "rest_height_m": rest, "first_frame_height_m": first,
    "unit_system": units.system, "scale_length": metres_per_unit,
    "importer_default_global_scale": importer["global_scale"].default}))
