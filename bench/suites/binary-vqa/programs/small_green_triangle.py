def execute_command(image):
    # Question: Is there a small green triangle?
    image_patch = ImagePatch(image)
    # First try the detector with the color in the name
    triangle_patches = image_patch.find("green triangle")
    if len(triangle_patches) == 0:
        # The color filter can reject a faded triangle: look at every triangle and
        # check its color one by one
        triangle_patches = [t for t in image_patch.find("triangle") if t.verify_property("triangle", "green")]
    for triangle_patch in triangle_patches:
        # "small" is about the size of the triangle itself
        size = triangle_patch.simple_query("What size is the triangle?")
        if size == "small":
            return "yes"
    return "no"
