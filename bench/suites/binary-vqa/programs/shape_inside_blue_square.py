def execute_command(image):
    # Question: Is there a shape inside a blue square?
    image_patch = ImagePatch(image)
    square_patches = image_patch.find("blue square")
    for square_patch in square_patches:
        # A square too small cannot hold another shape
        if square_patch.width < 26:
            continue
        # Search inside the square's crop; find() on a patch only looks inside it
        inner_patches = square_patch.find("shape")
        for inner_patch in inner_patches:
            # the square itself is found in its own crop: skip boxes about as big as it
            if inner_patch.width < square_patch.width * 0.7:
                return "yes"
    return "no"
