def execute_command(image):
    # Question: Which shape is not red?
    # Answer with a shape name, or "N/A" if every shape is red.
    image_patch = ImagePatch(image)
    shape_patches = image_patch.find("shape")
    if len(shape_patches) == 0:
        return "N/A"
    for shape_patch in shape_patches:
        if not shape_patch.verify_property("shape", "red"):
            return shape_patch.simple_query("What shape is this?")
    return "N/A"
