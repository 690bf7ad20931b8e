def execute_command(image, my_fig, time_wait_between_lines, syntax):
    # Question: Is the orange object small or large?
    # Answer "small" or "large", or "N/A" if there is no orange object.
    image_patch = ImagePatch(image)
    orange_patches = image_patch.find("orange object")
    if len(orange_patches) == 0:
        return "N/A"
    orange_patch = orange_patches[0]
    # Yellow and red objects are easily taken for orange: confirm on the crop
    if not orange_patch.verify_property("object", "orange"):
        return "N/A"
    return orange_patch.simple_query("What size is the object?")
